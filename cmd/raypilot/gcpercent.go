package main

// webhookGCPercent is the webhook's GOGC. An admission allocates about
// 65 KB for a seed cluster and keeps none of it, while the live heap (the
// template caches) is small, so at Go's default 100 the collector runs
// every few hundred admissions: 400 took the process CPU of 3,000 seed
// admissions from 2.4 and 1.9 s to 1.3 and 1.2 s (two alternating rounds,
// `go test -bench Admission/seed/mutate$ -benchtime 3000x`), for 20 MB
// more peak RSS. The soft memory limit (softMemoryLimit) still bounds the
// heap under the container's limit.
const webhookGCPercent = 400

// gcPercent returns the GOGC to set for the webhook, and false when the
// user's GOGC is set (the runtime already honours it).
func gcPercent(getenv func(string) string) (int, bool) {
	if getenv("GOGC") != "" {
		return 0, false
	}
	return webhookGCPercent, true
}
