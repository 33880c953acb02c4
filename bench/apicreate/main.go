// Command apicreate measures RayCluster creation end to end through a real
// kube-apiserver, with raypilot's admission webhooks registered and without
// them, in the same run.
//
// It starts etcd and kube-apiserver (envtest binaries from
// $RAYPILOT_TOOLS_BIN) with the KubeRay v1.5.0 and raypilot CRDs, the
// examples' ComputeTemplate and ConfigMap, and the real `raypilot webhook`
// as a separate process registered over TLS through the configurations of
// hack/local-cluster/webhook.yaml (url client config), and a second one
// with --single-call registered by the mutating configuration alone. Then,
// in rounds, it creates and deletes the seed cluster
// (examples/raycluster.yaml, unique names) at each concurrency in each mode
// (modes); the order of the modes flips every round (ABBA) so slow drift
// of the machine or of etcd cancels out.
//
//	RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir) go run ./bench/apicreate
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/raypilot/raypilot/internal/testcp"
)

type config struct {
	creates      int
	rounds       int
	concurrency  []int
	out, binary  string
	kyverno      string
	targetRatio  float64
	warmupRounds int
}

func main() {
	var c config
	var conc string
	flag.IntVar(&c.creates, "creates", 1000, "creates per cell (concurrency × mode), summed over the rounds")
	flag.IntVar(&c.rounds, "rounds", 5, "rounds; each runs every cell once, the modes in ABBA order")
	flag.StringVar(&conc, "concurrency", "10,50", "comma-separated numbers of concurrent clients")
	flag.StringVar(&c.out, "out", "", "optional file for the results as JSON")
	flag.StringVar(&c.binary, "binary", "", "raypilot binary; empty: go build ./cmd/raypilot from the repository root")
	flag.StringVar(&c.kyverno, "kyverno", "", "Kyverno binary of the kyverno mode; empty: $RAYPILOT_TOOLS_BIN/kyverno if built (hack/tools.sh build kyverno); none: no kyverno mode")
	flag.Parse()
	c.targetRatio = 1.05
	for _, f := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "apicreate: bad concurrency %q\n", f)
			os.Exit(2)
		}
		c.concurrency = append(c.concurrency, n)
	}
	if c.creates <= 0 || c.rounds <= 0 || c.creates < c.rounds {
		fmt.Fprintln(os.Stderr, "apicreate: -creates must be at least -rounds, both positive")
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard())
	// The client's own GC pauses would show up as latency; keep them rare.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(800)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "apicreate:", err)
		stop()
		os.Exit(1)
	}
}

// cell accumulates one (concurrency, webhook) combination over the rounds.
type cell struct {
	Concurrency int     `json:"concurrency"`
	Mode        string  `json:"mode"`
	Creates     int     `json:"creates"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"firstError,omitempty"`
	P50ms       float64 `json:"create_p50_ms"`
	P99ms       float64 `json:"create_p99_ms"`
	MaxMs       float64 `json:"create_max_ms"`
	PerSecond   float64 `json:"creates_per_second"`
	DelP50ms    float64 `json:"delete_p50_ms"`
	DelP99ms    float64 `json:"delete_p99_ms"`

	// CPUmsPerCreate is CPU time per create of each process, from
	// /proc/<pid>/stat over the create part of the cell.
	CPUmsPerCreate map[string]float64 `json:"cpu_ms_per_create"`

	created, deleted []time.Duration
	busy             time.Duration
	cpu              map[string]float64
}

// Results is what -out writes.
type Results struct {
	Rounds      int     `json:"rounds"`
	ClientQPS   float64 `json:"clientQPS"`
	ClientBurst int     `json:"clientBurst"`
	Cells       []*cell `json:"cells"`
	// P99Ratio is webhook / expanded, SingleP99Ratio single / expanded,
	// by concurrency; Target bounds both.
	P99Ratio       map[int]float64   `json:"p99RatioWebhookExpanded"`
	SingleP99Ratio map[int]float64   `json:"p99RatioSingleExpanded"`
	Target         float64           `json:"targetRatio"`
	Met            map[int]bool      `json:"targetMet"`
	SingleMet      map[int]bool      `json:"singleTargetMet"`
	Machine        map[string]string `json:"machine"`

	// Kyverno compares raypilot with Kyverno per concurrency (kyverno
	// mode only).
	Kyverno map[int]kyvernoRatio `json:"kyverno,omitempty"`
}

func run(ctx context.Context, c config) error {
	env, err := setup(ctx, c.binary)
	if err != nil {
		if env != nil {
			env.close()
		}
		return err
	}
	defer env.close()
	if err := env.startKyverno(ctx, c.kyverno); err != nil {
		return err
	}
	modes := env.modes()

	fmt.Printf("apicreate: seed RayCluster (examples/raycluster.yaml, unique names) created then deleted; %d rounds, modes %s, the order reversed every other round; %d creates per cell\n", c.rounds, strings.Join(modes, " / "), c.creates)
	fmt.Printf("apicreate: client controller-runtime/client-go, QPS %d burst %d (no client-side throttling); GOMAXPROCS %d; webhook pid %d, single-call webhook pid %d (separate processes, TLS, url client config)\n",
		clientQPS, clientBurst, runtime.GOMAXPROCS(0), env.webhook.Pid(), env.single.Pid())

	load0 := testcp.LoadAverage()
	cells := map[string]*cell{}
	var order []*cell
	for _, n := range c.concurrency {
		for _, m := range modes {
			cl := &cell{Concurrency: n, Mode: m}
			cells[key(n, m)] = cl
			order = append(order, cl)
		}
	}
	// Warm-up: every path once, not measured; the object the webhook
	// stores is captured for the expanded baseline.
	for _, m := range modes {
		if err := env.enter(ctx, m); err != nil {
			return err
		}
		if m == modeWebhook {
			if err := env.captureExpanded(ctx); err != nil {
				return err
			}
		}
		if m == modeWebhook || m == modeKyverno {
			if err := env.captureStored(ctx, m); err != nil {
				return err
			}
		}
		var w cell
		if err := env.cell(ctx, &w, "warmup", 10, 100, m == modeExpanded); err != nil {
			return err
		}
	}
	if err := env.checkKyvernoEquivalent(); err != nil {
		return err
	}
	seq := 0
	for r := range c.rounds {
		n := c.creates / c.rounds
		if r < c.creates%c.rounds {
			n++
		}
		phases := slices.Clone(modes)
		if r%2 == 1 {
			slices.Reverse(phases)
		}
		for _, m := range phases {
			if err := env.enter(ctx, m); err != nil {
				return err
			}
			for _, conc := range c.concurrency {
				seq++
				if err := env.cell(ctx, cells[key(conc, m)], fmt.Sprintf("r%d-%d", r, seq), conc, n, m == modeExpanded); err != nil {
					return err
				}
			}
		}
		fmt.Fprintf(os.Stderr, "apicreate: round %d/%d done\n", r+1, c.rounds)
	}

	fmt.Printf("apicreate: machine load average (1 min) %.1f at the start, %.1f at the end, on %d CPUs\n", load0, testcp.LoadAverage(), runtime.NumCPU())
	fmt.Printf("apicreate: modes: webhook = compact seed, webhook configurations registered; without = compact seed, none registered (the baseline); expanded = the object the webhook stores (%d bytes of JSON vs %d), sent already expanded, none registered; single = compact seed, the single-call webhook registered (mutating configuration only, raypilot webhook --single-call)\n",
		env.expandedSize, env.seedSize)
	env.describeKyverno()
	res := Results{Rounds: c.rounds, ClientQPS: clientQPS, ClientBurst: clientBurst, Target: c.targetRatio,
		P99Ratio: map[int]float64{}, SingleP99Ratio: map[int]float64{}, Met: map[int]bool{}, SingleMet: map[int]bool{}, Machine: map[string]string{"cpus": strconv.Itoa(runtime.NumCPU())}}
	fmt.Println()
	fmt.Printf("%-8s %-5s %8s %6s %10s %10s %10s %10s %10s %10s\n", "mode", "conc", "creates", "errors", "p50_ms", "p99_ms", "max_ms", "creates/s", "del_p50_ms", "del_p99_ms")
	for _, cl := range order {
		cl.finish()
		fmt.Printf("%-8s %-5d %8d %6d %10.2f %10.2f %10.2f %10.0f %10.2f %10.2f\n", cl.Mode, cl.Concurrency, cl.Creates, cl.Errors, cl.P50ms, cl.P99ms, cl.MaxMs, cl.PerSecond, cl.DelP50ms, cl.DelP99ms)
		if cl.FirstError != "" {
			fmt.Printf("  first error: %s\n", cl.FirstError)
		}
	}
	fmt.Println()
	fmt.Printf("%-8s %-8s %-5s %12s %8s %11s %10s %10s %9s   (CPU ms per create, /proc utime+stime over the creates; webhook: both raypilot webhook processes)\n", "cpu", "mode", "conc", "apiserver", "etcd", "webhook", "kyverno", "client", "total")
	for _, cl := range order {
		m := cl.CPUmsPerCreate
		hook := m["webhook"] + m["single"]
		fmt.Printf("%-8s %-8s %-5d %12.2f %8.2f %11.2f %10.2f %10.2f %9.2f\n", "cpu", cl.Mode, cl.Concurrency, m["apiserver"], m["etcd"], hook, m["kyverno"], m["client"],
			m["apiserver"]+m["etcd"]+hook+m["kyverno"]+m["client"])
	}
	fmt.Println()
	for _, n := range c.concurrency {
		without, expanded := cells[key(n, modeWithout)], cells[key(n, modeExpanded)]
		for _, m := range []string{modeWebhook, modeSingle} {
			with := cells[key(n, m)]
			ratio := with.P99ms / expanded.P99ms
			if m == modeWebhook {
				res.P99Ratio[n], res.Met[n] = ratio, ratio <= c.targetRatio
			} else {
				res.SingleP99Ratio[n], res.SingleMet[n] = ratio, ratio <= c.targetRatio
			}
			verdict := "target met"
			if ratio > c.targetRatio {
				verdict = fmt.Sprintf("target missed by %.2f", ratio-c.targetRatio)
			}
			fmt.Printf("ratio    %s concurrency %d: p99 %s over expanded %.2f (%.2f / %.2f ms), p50 %.2f; target ≤ %.2f: %s; against the compact object without webhook: p99 %.2f, p50 %.2f\n",
				m, n, m, ratio, with.P99ms, expanded.P99ms, with.P50ms/expanded.P50ms, c.targetRatio, verdict, with.P99ms/without.P99ms, with.P50ms/without.P50ms)
		}
		two, one := cells[key(n, modeWebhook)], cells[key(n, modeSingle)]
		fmt.Printf("ratio    single over webhook, concurrency %d: p99 %.2f (%.2f / %.2f ms), p50 %.2f, CPU per create %.2f / %.2f ms\n",
			n, one.P99ms/two.P99ms, one.P99ms, two.P99ms, one.P50ms/two.P50ms, cpuTotal(one), cpuTotal(two))
	}
	if env.kyverno != nil {
		fmt.Println()
		res.Kyverno = kyvernoRatios(c.concurrency, cells)
	}
	res.Cells = order
	if c.out != "" {
		if err := testcp.WriteJSON(c.out, res); err != nil {
			return err
		}
		fmt.Printf("\nresults written to %s\n", c.out)
	}
	return nil
}

// Modes of a cell: what is sent and which webhook is registered.
const (
	modeWebhook  = "webhook"
	modeWithout  = "without"
	modeExpanded = "expanded"
	modeSingle   = "single"
)

// cpuTotal is the CPU per create of every process in cl.
func cpuTotal(cl *cell) float64 {
	t := 0.0
	for _, v := range cl.CPUmsPerCreate {
		t += v
	}
	return t
}

func key(conc int, mode string) string { return fmt.Sprintf("%d/%s", conc, mode) }

// cell creates n seed clusters with conc concurrent clients (closed loop:
// each client sends its next create when the last one returned), then
// deletes them at the same concurrency; latencies are added to cl.
func (e *environment) cell(ctx context.Context, cl *cell, prefix string, conc, n int, expanded bool) error {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("bench-%s-%d", prefix, i)
	}
	var mu sync.Mutex
	record := func(into *[]time.Duration, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			cl.Errors++
			if cl.FirstError == "" {
				cl.FirstError = err.Error()
			}
			return
		}
		*into = append(*into, d)
	}
	cpu0 := e.cpu()
	start := time.Now()
	parallel(ctx, conc, n, func(i int) {
		obj := e.object(names[i])
		if expanded {
			obj = e.expandedObject(names[i])
		}
		t := time.Now()
		err := e.client.Create(ctx, obj)
		record(&cl.created, time.Since(t), err)
	})
	cl.busy += time.Since(start)
	cl.Creates += n
	if cl.cpu == nil {
		cl.cpu = map[string]float64{}
	}
	for name, v := range e.cpu() {
		cl.cpu[name] += v - cpu0[name]
	}
	parallel(ctx, conc, n, func(i int) {
		obj := e.object(names[i])
		t := time.Now()
		err := client.IgnoreNotFound(e.client.Delete(ctx, obj))
		record(&cl.deleted, time.Since(t), err)
	})
	return ctx.Err()
}

// cpu reads the CPU seconds of every process the creates go through.
func (e *environment) cpu() map[string]float64 {
	out := map[string]float64{}
	for name, pid := range e.pids {
		if v, err := testcp.CPUSeconds(pid); err == nil {
			out[name] = v
		}
	}
	return out
}

// parallel runs f(0..n-1) on conc goroutines.
func parallel(ctx context.Context, conc, n int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				f(i)
			}
		})
	}
	wg.Wait()
}

func (cl *cell) finish() {
	cl.P50ms, cl.P99ms, cl.MaxMs = quantiles(cl.created)
	cl.DelP50ms, cl.DelP99ms, _ = quantiles(cl.deleted)
	if cl.busy > 0 {
		cl.PerSecond = float64(len(cl.created)) / cl.busy.Seconds()
	}
	cl.CPUmsPerCreate = map[string]float64{}
	for name, v := range cl.cpu {
		cl.CPUmsPerCreate[name] = v * 1000 / float64(cl.Creates)
	}
}

// quantiles returns p50, p99 and max in milliseconds (nearest rank).
func quantiles(ds []time.Duration) (p50, p99, maxMs float64) {
	if len(ds) == 0 {
		return 0, 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) float64 {
		i := int(q*float64(len(s))+0.999999) - 1
		i = max(0, min(i, len(s)-1))
		return float64(s[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99), float64(s[len(s)-1]) / float64(time.Millisecond)
}
