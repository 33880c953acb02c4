// Command scalercap measures one `raypilot scaler` process managing many
// RayClusters at -interval (default 1s): its CPU and RSS (from /proc/<pid>), how
// late each cluster's rounds run, and the reaction from pending demand
// appearing to the worker replicas patch accepted; first with a baseline
// number of clusters, then with the full number, in the same run.
//
// API server: real etcd + kube-apiserver (envtest binaries from
// $RAYPILOT_TOOLS_BIN) with the KubeRay CRDs, no KubeRay operator. Each
// RayCluster is examples/raycluster.yaml as the webhook stores it under a
// policy with autoscaling mode central, with a head pod labelled as KubeRay
// labels it and set Running through the status subresource.
//
// GCS: one in-process gRPC server in the benchmark serving Ray's
// AutoscalerStateService (scaler/gcs/rpcpb) for every cluster on loopback,
// reached through the scaler's --gcs-proxy-address and routed by the
// :authority <cluster>-head-svc.<ns>.svc:6379.
//
//	RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir) go run ./bench/scalercap
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/raypilot/raypilot/internal/testcp"
)

type config struct {
	clusters, baseline, namespaces int
	replicas                       int
	samples, concurrency           int
	window, warmup, interval       time.Duration
	activeInterval                 time.Duration
	activeRounds                   int
	memoryLimit                    int64
	targetCores                    float64
	out, binary, pprofDir          string
}

// Targets for one scaler process at 2,000 clusters (BENCHMARKS.md): CPU
// (-target-cores), RSS, reaction p99 within the interval plus
// targetReactionSlack, gaps between two reads of a cluster p99 within
// targetGapFactor × the interval.
const (
	targetRSSMiB        = 250.0
	targetReactionSlack = 200 * time.Millisecond
	targetGapFactor     = 1.2
)

// chartMemoryLimit is the scaler container's memory limit in the chart's
// values (scaler.resources.limits.memory), passed as the chart passes it
// (RAYPILOT_MEMORY_LIMIT_BYTES), so that the Go runtime's soft limit is
// the deployed one.
const chartMemoryLimit = 512 << 20

func main() {
	var c config
	flag.IntVar(&c.clusters, "clusters", 2000, "RayClusters the scaler manages in the measured phase")
	flag.IntVar(&c.baseline, "baseline", 100, "RayClusters in the baseline phase (0: no baseline)")
	flag.IntVar(&c.namespaces, "namespaces", 20, "namespaces the clusters are spread over")
	flag.IntVar(&c.samples, "samples", 300, "reaction samples aimed for per phase (posted at random over the window)")
	flag.DurationVar(&c.window, "window", 60*time.Second, "measured steady window per phase")
	flag.DurationVar(&c.warmup, "warmup", 10*time.Second, "wait after every cluster has had two rounds, before the window")
	flag.IntVar(&c.concurrency, "concurrency", 0, "the scaler's --concurrency (0: its default)")
	flag.DurationVar(&c.interval, "interval", time.Second, "the scaler's --interval")
	flag.DurationVar(&c.activeInterval, "active-interval", 0, "the scaler's --active-interval (0: half of -interval)")
	flag.IntVar(&c.activeRounds, "active-rounds-per-second", 0, "the scaler's --active-rounds-per-second (0: its default)")
	flag.Int64Var(&c.memoryLimit, "memory-limit", chartMemoryLimit, "container memory limit in bytes the scaler is told (RAYPILOT_MEMORY_LIMIT_BYTES, as the chart sets it; its soft limit is 90%); 0: none")
	flag.Float64Var(&c.targetCores, "target-cores", 0, "CPU target of the measured phase (0: 1 core at -interval 500ms or less, 0.4 above)")
	flag.IntVar(&c.replicas, "replicas", 1, "scaler processes; above 1: the shards mode (shards.go), each with --sharding, no baseline")
	flag.StringVar(&c.out, "out", "", "optional file for the results as JSON")
	flag.StringVar(&c.binary, "binary", "", "raypilot binary; empty: go build ./cmd/raypilot from the repository root")
	flag.StringVar(&c.pprofDir, "pprof-dir", "", "if set, run the scaler with --pprof-bind-address and save a CPU profile of each window here")
	flag.Parse()
	if c.activeInterval == 0 {
		c.activeInterval = c.interval / 2
	}
	if c.targetCores == 0 {
		c.targetCores = 0.4
		if c.interval <= 500*time.Millisecond {
			c.targetCores = 1
		}
	}
	if c.clusters <= 0 || c.baseline < 0 || c.baseline >= c.clusters || c.namespaces <= 0 || c.samples <= 0 || c.window <= 0 {
		fmt.Fprintln(os.Stderr, "scalercap: need 0 <= -baseline < -clusters, positive -namespaces, -samples and -window")
		os.Exit(2)
	}
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "scalercap:", err)
		stop()
		os.Exit(1)
	}
}

// phaseResult is one measured phase.
type phaseResult struct {
	Name            string  `json:"name"`
	Clusters        int     `json:"clusters"`
	Managed         float64 `json:"managedGauge"`
	Active          float64 `json:"activeGauge"`
	ReportsPerSec   float64 `json:"reportsPerSecond"`
	CPUmsPerRead    float64 `json:"cpuMillisecondsPerRead"`
	StartupSeconds  float64 `json:"secondsToTwoRoundsEach"`
	WindowSeconds   float64 `json:"windowSeconds"`
	CPUCores        float64 `json:"cpuCores"`
	RSSMaxMiB       float64 `json:"rssMaxMiB"`
	RSSEndMiB       float64 `json:"rssEndMiB"`
	RSSPeakMiB      float64 `json:"rssPeakSinceStartMiB"`
	ReadsPerCluster float64 `json:"readsPerClusterPerSecond"`
	MinReads        int64   `json:"minReadsOfOneCluster"`
	GapP50ms        float64 `json:"gapP50ms"`
	GapP99ms        float64 `json:"gapP99ms"`
	GapMaxms        float64 `json:"gapMaxms"`
	Reactions       int     `json:"reactions"`
	Lost            int     `json:"reactionsWithoutPatch"`
	ReactP50ms      float64 `json:"reactionP50ms"`
	ReactP99ms      float64 `json:"reactionP99ms"`
	ReactMaxms      float64 `json:"reactionMaxms"`
	WaitP50ms       float64 `json:"waitForRoundP50ms"`
	WaitP99ms       float64 `json:"waitForRoundP99ms"`
	RoundP50ms      float64 `json:"readToPatchP50ms"`
	RoundP99ms      float64 `json:"readToPatchP99ms"`
	RoundMaxms      float64 `json:"readToPatchMaxms"`
	Unasked         int     `json:"scaleUpsWithoutDemand"`
	SelfReset       int     `json:"scaledBackByScaler"`
	UnknownGCS      int64   `json:"gcsCallsForUnknownClusters"`
	Profile         string  `json:"cpuProfile,omitempty"`
	Goroutines      float64 `json:"goroutines"`
	HeapInuseMiB    float64 `json:"heapInuseMiB"`
	StackInuseMiB   float64 `json:"stackInuseMiB"`
	GoSysMiB        float64 `json:"goSysMiB"`
	LoadStart       float64 `json:"loadAverageAtStart"`
	LoadEnd         float64 `json:"loadAverageAtEnd"`
}

func run(ctx context.Context, c config) error {
	root, err := testcp.RepoRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "raypilot-scalercap-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	binary := c.binary
	if binary == "" {
		binary = filepath.Join(tmp, "raypilot")
		fmt.Fprintln(os.Stderr, "scalercap: building ./cmd/raypilot")
		if err := testcp.BuildRaypilot(ctx, root, binary); err != nil {
			return err
		}
	}
	seed, err := expandedSeed(root)
	if err != nil {
		return err
	}
	kuberay, err := testcp.KubeRayCRDDir()
	if err != nil {
		return err
	}
	if c.replicas > 1 {
		return runShards(ctx, c, binary, tmp, seed, kuberay)
	}
	w, err := startWorld(ctx, c, kuberay, nil)
	if err != nil {
		return err
	}
	defer w.close()
	cp, cl, gcs := w.cp, w.cl, w.gcs

	fmt.Printf("scalercap: one `raypilot scaler --interval %s --active-interval %s` process (separate, measured from /proc/<pid>); API server: real etcd + kube-apiserver (envtest), KubeRay CRDs, no KubeRay operator\n", c.interval, c.activeInterval)
	limit := "none"
	if c.memoryLimit > 0 {
		limit = fmt.Sprintf("%d MiB (the chart's default limit; Go soft limit 90%%)", c.memoryLimit>>20)
	}
	fmt.Printf("scalercap: scaler memory limit %s, passed as RAYPILOT_MEMORY_LIMIT_BYTES as the chart does\n", limit)
	fmt.Printf("scalercap: GCS: in-process gRPC AutoscalerStateService fakes in the benchmark (one loopback listener, routed by :authority via --gcs-proxy-address), a head node each, demand {CPU: 1} posted at random\n")
	conc := "its default"
	if c.concurrency > 0 {
		conc = strconv.Itoa(c.concurrency)
	}
	fmt.Printf("scalercap: scaler --concurrency %s; config from KUBECONFIG (controller-runtime loader: no client-side rate limit)\n", conc)
	fmt.Printf("scalercap: clusters spread over %d namespaces; window %s after every cluster had 2 rounds + %s; GOMAXPROCS %d on %d CPUs shared with the API server, etcd and the benchmark\n",
		c.namespaces, c.window, c.warmup, runtime.GOMAXPROCS(0), runtime.NumCPU())

	var results []*phaseResult
	var all []*benchCluster
	phases := []struct {
		name string
		n    int
	}{{"baseline", c.baseline}, {"full", c.clusters}}
	for _, ph := range phases {
		if ph.n == 0 {
			continue
		}
		t := time.Now()
		more, err := createClusters(ctx, cl, gcs, seed, c.namespaces, len(all), ph.n)
		if err != nil {
			return err
		}
		all = append(all, more...)
		fmt.Fprintf(os.Stderr, "scalercap: %d RayClusters with Running head pods in %s\n", len(all), time.Since(t).Round(time.Millisecond))
		res, err := measure(ctx, c, ph.name, binary, tmp, cp, cl, gcs, all)
		if err != nil {
			return err
		}
		results = append(results, res)
	}
	report(c, results)
	if c.out != "" {
		if err := testcp.WriteJSON(c.out, map[string]any{"phases": results, "interval": c.interval.String(), "namespaces": c.namespaces}); err != nil {
			return err
		}
		fmt.Printf("\nresults written to %s\n", c.out)
	}
	return nil
}

func measure(ctx context.Context, c config, name, binary, tmp string, cp *testcp.ControlPlane, cl client.WithWatch, gcs *fakeGCS, clusters []*benchCluster) (*phaseResult, error) {
	res := &phaseResult{Name: name, Clusters: len(clusters), WindowSeconds: c.window.Seconds()}
	// The metrics, probe and pprof ports; started again on new ones when
	// another process took one before the scaler bound it.
	var (
		proc                   *testcp.Process
		metricsPort, pprofPort int
	)
	err := testcp.WithFreePorts(3, func(ports []int) error {
		args := []string{"scaler", "--interval", c.interval.String(), "--active-interval", c.activeInterval.String(), "--gcs-proxy-address", gcs.addr,
			"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[0]),
			"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1])}
		if c.concurrency > 0 {
			args = append(args, "--concurrency", strconv.Itoa(c.concurrency))
		}
		if c.activeRounds > 0 {
			args = append(args, "--active-rounds-per-second", strconv.Itoa(c.activeRounds))
		}
		if c.pprofDir != "" {
			args = append(args, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[2]))
		}
		// KUBECONFIG rather than --kubeconfig: the config then comes from
		// controller-runtime's loader, as in a pod, with its client-side
		// rate limits (none; API priority and fairness applies).
		env := []string{"KUBECONFIG=" + cp.Kubeconfig}
		if c.memoryLimit > 0 {
			env = append(env, fmt.Sprintf("RAYPILOT_MEMORY_LIMIT_BYTES=%d", c.memoryLimit))
		}
		p, err := testcp.StartProcess(filepath.Join(tmp, "scaler-"+name+".log"), env, binary, args...)
		if err != nil {
			return err
		}
		if err := p.WaitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]), 60*time.Second); err != nil {
			p.Stop()
			return err
		}
		proc, metricsPort, pprofPort = p, ports[0], ports[2]
		return nil
	})
	if err != nil {
		return nil, err
	}
	defer proc.Stop()
	start := time.Now()
	var fakes []*fakeCluster
	for _, bc := range clusters {
		fakes = append(fakes, bc.gcs)
	}
	for {
		done, all := gcs.readsAtLeast(fakes, 2)
		if all {
			break
		}
		if time.Since(start) > 3*time.Minute {
			return nil, fmt.Errorf("%s: only %d of %d clusters had two rounds after 3m; scaler log:\n%s", name, done, len(fakes), proc.LogTail(4000))
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
	res.StartupSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "scalercap: %s: every cluster had two rounds %.1fs after the scaler was ready; warming up %s\n", name, res.StartupSeconds, c.warmup)
	sleep(ctx, c.warmup)

	r := newReactions(cl, clusters)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.watch(wctx); err != nil {
		return nil, err
	}
	pid := proc.Pid()
	var prof chan []byte
	if c.pprofDir != "" {
		prof = make(chan []byte, 1)
		go func() {
			prof <- fetch(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", pprofPort, int(c.window.Seconds())))
		}()
	}
	res.LoadStart = testcp.LoadAverage()
	gcs.startWindow(c.window)
	reports0 := gcs.reports.Load()
	cpu0, err := testcp.CPUSeconds(pid)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	until := t0.Add(c.window)
	var rssMax, rssEnd int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for time.Now().Before(until) && sleep(ctx, 500*time.Millisecond) {
			if rss, _, err := testcp.MemoryKiB(pid); err == nil {
				rssMax, rssEnd = max(rssMax, rss), rss
			}
		}
	})
	rng := rand.New(rand.NewPCG(uint64(len(clusters)), 6))
	r.drive(ctx, clusters, float64(c.samples)/c.window.Seconds(), until, rng)
	sleep(ctx, time.Until(until))
	cpu1, err := testcp.CPUSeconds(pid)
	if err != nil {
		return nil, err
	}
	elapsed := time.Since(t0).Seconds()
	res.LoadEnd = testcp.LoadAverage()
	wg.Wait()
	if _, hwm, err := testcp.MemoryKiB(pid); err == nil {
		res.RSSPeakMiB = float64(hwm) / 1024
	}
	res.Lost = r.finish(ctx, 5*time.Second)
	res.CPUCores = (cpu1 - cpu0) / elapsed
	res.RSSMaxMiB, res.RSSEndMiB = float64(rssMax)/1024, float64(rssEnd)/1024
	metrics := fetch(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	res.Managed = gauge(metrics, "raypilot_scaler_clusters")
	res.Active = gauge(metrics, "raypilot_scaler_active_clusters")
	res.ReportsPerSec = float64(gcs.reports.Load()-reports0) / elapsed
	res.Goroutines = gauge(metrics, "go_goroutines")
	res.HeapInuseMiB = gauge(metrics, "go_memstats_heap_inuse_bytes") / (1 << 20)
	res.StackInuseMiB = gauge(metrics, "go_memstats_stack_inuse_bytes") / (1 << 20)
	res.GoSysMiB = gauge(metrics, "go_memstats_sys_bytes") / (1 << 20)
	res.UnknownGCS = gcs.unknown.Load()

	var total int64
	res.MinReads = -1
	for _, f := range fakes {
		f.mu.Lock()
		total += f.windowCalls
		if res.MinReads < 0 || f.windowCalls < res.MinReads {
			res.MinReads = f.windowCalls
		}
		f.mu.Unlock()
	}
	res.ReadsPerCluster = float64(total) / float64(len(fakes)) / c.window.Seconds()
	if total > 0 {
		res.CPUmsPerRead = res.CPUCores * c.window.Seconds() / float64(total) * 1000
	}
	gcs.gapMu.Lock()
	res.GapP50ms, res.GapP99ms, res.GapMaxms = quantiles(gcs.gaps)
	gcs.gapMu.Unlock()

	r.mu.Lock()
	react, wait, round := r.splits()
	res.Unasked, res.SelfReset = r.unasked, r.selfReset
	r.mu.Unlock()
	res.Reactions = len(react)
	res.ReactP50ms, res.ReactP99ms, res.ReactMaxms = quantiles(react)
	res.WaitP50ms, res.WaitP99ms, _ = quantiles(wait)
	res.RoundP50ms, res.RoundP99ms, res.RoundMaxms = quantiles(round)

	if prof != nil {
		heap := fetch(fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/heap", pprofPort))
		data := <-prof
		if err := os.MkdirAll(c.pprofDir, 0o755); err == nil && len(data) > 0 {
			res.Profile = filepath.Join(c.pprofDir, "scaler-"+name+".pprof")
			_ = os.WriteFile(res.Profile, data, 0o644)
			_ = os.WriteFile(filepath.Join(c.pprofDir, "scaler-"+name+".heap.pprof"), heap, 0o644)
		}
	}
	return res, nil
}

func fetch(url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scalercap: profile:", err)
		return nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(os.Stderr, "scalercap: profile: %s: %s\n", resp.Status, data)
		return nil
	}
	return data
}

// gauge reads one unlabelled gauge from a Prometheus text exposition (-1
// when absent).
func gauge(data []byte, name string) float64 {
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == name {
			v, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
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

func report(c config, results []*phaseResult) {
	fmt.Println()
	fmt.Printf("%-9s %8s %9s %8s %8s %8s %9s %8s %9s %9s %9s %6s %9s %9s %9s\n", "phase", "clusters", "cpu_cores", "rss_max", "rss_end", "rss_peak",
		"reads/c/s", "min_rds", "gap_p50", "gap_p99", "gap_max", "react", "r_p50_ms", "r_p99_ms", "r_max_ms")
	for _, r := range results {
		fmt.Printf("%-9s %8d %9.3f %8.1f %8.1f %8.1f %9.3f %8d %9.0f %9.0f %9.0f %6d %9.0f %9.0f %9.0f\n", r.Name, r.Clusters, r.CPUCores, r.RSSMaxMiB, r.RSSEndMiB, r.RSSPeakMiB,
			r.ReadsPerCluster, r.MinReads, r.GapP50ms, r.GapP99ms, r.GapMaxms, r.Reactions, r.ReactP50ms, r.ReactP99ms, r.ReactMaxms)
	}
	fmt.Println("(rss in MiB: max and end of the window, peak since start (VmHWM); reads/c/s: GetClusterResourceState calls per cluster per second; gap: time between two reads of one cluster, ms)")
	fmt.Println()
	for _, r := range results {
		fmt.Printf("split    %s: machine load average (1 min) %.1f at the window's start, %.1f at its end, on %d CPUs\n", r.Name, r.LoadStart, r.LoadEnd, runtime.NumCPU())
		fmt.Printf("split    %s: Go memory at the window's end: heap in use %.1f MiB, stacks %.1f MiB (%.0f goroutines), obtained from the OS %.1f MiB\n",
			r.Name, r.HeapInuseMiB, r.StackInuseMiB, r.Goroutines, r.GoSysMiB)
		fmt.Printf("split    %s: CPU per round %.3f ms (CPU over the GCS reads of the window); reports to the GCS %.0f/s; active clusters (gauge) %g\n",
			r.Name, r.CPUmsPerRead, r.ReportsPerSec, r.Active)
		fmt.Printf("split    %s: reaction = wait for the cluster's next read (p50 %.0f, p99 %.0f ms) + read to patch seen (p50 %.0f, p99 %.0f, max %.0f ms); %d without patch; scaler gauge %g clusters; %d scale-ups without demand; %d scaled back by the scaler\n",
			r.Name, r.WaitP50ms, r.WaitP99ms, r.RoundP50ms, r.RoundP99ms, r.RoundMaxms, r.Lost, r.Managed, r.Unasked, r.SelfReset)
	}
	if len(results) == 2 {
		b, f := results[0], results[1]
		dn := float64(f.Clusters - b.Clusters)
		fmt.Printf("percluster %d→%d clusters: %.2f millicores and %.1f KiB RSS (end of window) per cluster\n",
			b.Clusters, f.Clusters, (f.CPUCores-b.CPUCores)/dn*1000, (f.RSSEndMiB-b.RSSEndMiB)*1024/dn)
	}
	f := results[len(results)-1]
	verdict := func(ok bool, miss string) string {
		if ok {
			return "met"
		}
		return "missed by " + miss
	}
	reaction := c.interval + targetReactionSlack
	gap := time.Duration(float64(c.interval) * targetGapFactor)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	fmt.Printf("target   %d clusters at --interval %s: CPU %.3f cores (≤ %g: %s); RSS max %.1f MiB (≤ %.0f: %s); reaction p99 %.0f ms (≤ interval + %s = %.0f ms: %s); gap p99 %.0f ms (≤ %g × interval = %.0f ms: %s)\n", f.Clusters, c.interval,
		f.CPUCores, c.targetCores, verdict(f.CPUCores <= c.targetCores, fmt.Sprintf("%.2f cores", f.CPUCores-c.targetCores)),
		f.RSSMaxMiB, targetRSSMiB, verdict(f.RSSMaxMiB <= targetRSSMiB, fmt.Sprintf("%.0f MiB", f.RSSMaxMiB-targetRSSMiB)),
		f.ReactP99ms, targetReactionSlack, ms(reaction), verdict(f.ReactP99ms <= ms(reaction), fmt.Sprintf("%.0f ms", f.ReactP99ms-ms(reaction))),
		f.GapP99ms, targetGapFactor, ms(gap), verdict(f.GapP99ms <= ms(gap), fmt.Sprintf("%.0f ms", f.GapP99ms-ms(gap))))
}
