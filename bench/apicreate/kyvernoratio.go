package main

import "fmt"

// kyvernoRatio compares raypilot's webhook with Kyverno at one
// concurrency: create p99 and the admission process's CPU per create,
// raypilot / Kyverno. Target: both below 1.
type kyvernoRatio struct {
	P99Ratio float64 `json:"create_p99_raypilot_over_kyverno"`
	CPURatio float64 `json:"admission_cpu_per_create_raypilot_over_kyverno"`
	Met      bool    `json:"targetMet"`
}

// kyvernoRatios prints one "kyverno" line per concurrency and returns the
// ratios.
func kyvernoRatios(concurrency []int, cells map[string]*cell) map[int]kyvernoRatio {
	out := map[int]kyvernoRatio{}
	for _, n := range concurrency {
		rp, ky := cells[key(n, modeWebhook)], cells[key(n, modeKyverno)]
		rpCPU, kyCPU := rp.CPUmsPerCreate["webhook"], ky.CPUmsPerCreate["kyverno"]
		r := kyvernoRatio{P99Ratio: rp.P99ms / ky.P99ms, CPURatio: rpCPU / kyCPU}
		r.Met = r.P99Ratio < 1 && r.CPURatio < 1
		out[n] = r
		fmt.Printf("kyverno  concurrency %d: raypilot / Kyverno create p99 %.2f (%.2f / %.2f ms), admission CPU per create %.2f (raypilot webhook %.2f / kyverno %.2f ms); p50 %.2f / %.2f ms; target both < 1: %s\n",
			n, r.P99Ratio, rp.P99ms, ky.P99ms, r.CPURatio, rpCPU, kyCPU, rp.P50ms, ky.P50ms, verdictBelowOne(r))
	}
	return out
}

func verdictBelowOne(r kyvernoRatio) string {
	var missed []string
	if r.P99Ratio >= 1 {
		missed = append(missed, fmt.Sprintf("p99 ratio by %.2f", r.P99Ratio-1))
	}
	if r.CPURatio >= 1 {
		missed = append(missed, fmt.Sprintf("CPU ratio by %.2f", r.CPURatio-1))
	}
	if len(missed) == 0 {
		return "met"
	}
	return fmt.Sprintf("missed (%s)", joinAnd(missed))
}

func joinAnd(s []string) string {
	if len(s) == 2 {
		return s[0] + " and " + s[1]
	}
	return s[0]
}
