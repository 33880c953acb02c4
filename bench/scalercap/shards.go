package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"github.com/raypilot/raypilot/internal/testcp"
)

// Targets of the shards mode (BENCHMARKS.md).
const (
	targetShareRatio   = 1.3 // each replica's CPU and RSS within this × the mean
	targetShardReactMs = 700.0
	targetTakeoverS    = 15.0
	shardLeaseDuration = 10 * time.Second // the scaler's --leader-elect-lease-duration default
)

// auditPolicy logs the metadata of every patch of a RayCluster, nothing
// else: who patched which cluster when.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: Metadata
  verbs: ["patch"]
  resources: [{group: "ray.io", resources: ["rayclusters"]}]
- level: None
`

// replicaResult is one sharded replica over the window.
type replicaResult struct {
	CPUCores  float64 `json:"cpuCores"`
	RSSMaxMiB float64 `json:"rssMaxMiB"`
	Managed   float64 `json:"managedGauge"`
	Members   float64 `json:"membersGauge"`
	Patches   int     `json:"patches"`
}

// shardsResult is the shards mode's outcome.
type shardsResult struct {
	Replicas       []replicaResult `json:"replicas"`
	Clusters       int             `json:"clusters"`
	StartupSeconds float64         `json:"secondsToTwoRoundsEach"`
	Reactions      int             `json:"reactions"`
	Lost           int             `json:"reactionsWithoutPatch"`
	ReactP50ms     float64         `json:"reactionP50ms"`
	ReactP99ms     float64         `json:"reactionP99ms"`
	WaitP99ms      float64         `json:"waitForRoundP99ms"`
	RoundP99ms     float64         `json:"readToPatchP99ms"`
	Victims        int             `json:"killedReplicaClusters"`
	NotTaken       int             `json:"clustersNotTakenOver"`
	TakeoverP50s   float64         `json:"takeoverP50s"`
	TakeoverMaxS   float64         `json:"takeoverMaxs"`
	AuditPatches   int             `json:"auditedScalerPatches"`
	Overlaps       int             `json:"clusterSecondsPatchedByTwo"`
	Drains         int64           `json:"drains"`
	UnknownGCS     int64           `json:"gcsCallsForUnknownClusters"`
	LoadStart      float64         `json:"loadAverageAtStart"`
	LoadEnd        float64         `json:"loadAverageAtEnd"`
	Profile        string          `json:"cpuProfileOfReplica0,omitempty"`
}

// runShards runs c.replicas `raypilot scaler --sharding` processes on
// c.clusters clusters: per-replica CPU and RSS and the reaction over a
// window, then one replica killed (SIGKILL) and the time until each of its
// clusters is read again by another, and the API server's audit log
// checked for a cluster patched by two replicas in the same second.
func runShards(ctx context.Context, c config, binary, tmp string, seed *rayv1.RayCluster, kuberay string) error {
	policy, auditLog := filepath.Join(tmp, "audit-policy.yaml"), filepath.Join(tmp, "audit.log")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return err
	}
	w, err := startWorld(ctx, c, kuberay, map[string]string{"audit-policy-file": policy, "audit-log-path": auditLog, "audit-log-format": "json"})
	if err != nil {
		return err
	}
	defer w.close()
	cp, cl, gcs := w.cp, w.cl, w.gcs
	fmt.Printf("shards: %d `raypilot scaler --sharding --interval %s` processes (measured from /proc/<pid>) on %d RayClusters over %d namespaces; API server: real etcd + kube-apiserver with an audit log of RayCluster patches; GCS: in-process fakes; %d CPUs, GOMAXPROCS %d\n",
		c.replicas, c.interval, c.clusters, c.namespaces, runtime.NumCPU(), runtime.GOMAXPROCS(0))
	t := time.Now()
	clusters, err := createClusters(ctx, cl, gcs, seed, c.namespaces, 0, c.clusters)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "scalercap: %d RayClusters with Running head pods in %s\n", len(clusters), time.Since(t).Round(time.Millisecond))

	type replica struct {
		proc           *testcp.Process
		metrics, pprof string
	}
	var reps []replica
	defer func() {
		for _, r := range reps {
			r.proc.Stop()
		}
	}()
	for i := range c.replicas {
		err := testcp.WithFreePorts(3, func(ports []int) error {
			args := []string{"scaler", "--sharding", "--leader-elect-resource-namespace", "default", "--interval", c.interval.String(), "--gcs-proxy-address", gcs.addr,
				"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[0]), "--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[1])}
			if c.pprofDir != "" {
				args = append(args, "--pprof-bind-address", fmt.Sprintf("127.0.0.1:%d", ports[2]))
			}
			p, err := testcp.StartProcess(filepath.Join(tmp, fmt.Sprintf("scaler-shard-%d.log", i)), []string{"KUBECONFIG=" + cp.Kubeconfig}, binary, args...)
			if err != nil {
				return err
			}
			if err := p.WaitReady(ctx, fmt.Sprintf("http://127.0.0.1:%d/readyz", ports[1]), 60*time.Second); err != nil {
				p.Stop()
				return err
			}
			reps = append(reps, replica{proc: p, metrics: fmt.Sprintf("http://127.0.0.1:%d/metrics", ports[0]),
				pprof: fmt.Sprintf("http://127.0.0.1:%d/debug/pprof", ports[2])})
			return nil
		})
		if err != nil {
			return err
		}
	}
	res := &shardsResult{Clusters: len(clusters)}
	var fakes []*fakeCluster
	for _, bc := range clusters {
		fakes = append(fakes, bc.gcs)
	}
	start := time.Now()
	for {
		done, all := gcs.readsAtLeast(fakes, 2)
		if all {
			break
		}
		if time.Since(start) > 5*time.Minute {
			var b strings.Builder
			for i := range reps {
				fmt.Fprintf(&b, "replica %d: clusters gauge %.0f, members gauge %.0f; its membership log:\n%s\n", i,
					gauge(fetch(reps[i].metrics), "raypilot_scaler_clusters"), gauge(fetch(reps[i].metrics), "raypilot_scaler_shard_members"),
					shardLog(filepath.Join(tmp, fmt.Sprintf("scaler-shard-%d.log", i))))
			}
			return fmt.Errorf("shards: only %d of %d clusters had two rounds after 5m\n%s", done, len(fakes), b.String())
		}
		if !sleep(ctx, 200*time.Millisecond) {
			return ctx.Err()
		}
	}
	res.StartupSeconds = time.Since(start).Seconds()
	fmt.Fprintf(os.Stderr, "scalercap: shards: every cluster had two rounds %.1fs after the replicas were ready; warming up %s\n", res.StartupSeconds, c.warmup)
	sleep(ctx, c.warmup)

	// The window: CPU and RSS per replica, reactions over all clusters.
	r := newReactions(cl, clusters)
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := r.watch(wctx); err != nil {
		return err
	}
	var prof chan []byte
	if c.pprofDir != "" {
		prof = make(chan []byte, 1)
		go func() { prof <- fetch(fmt.Sprintf("%s/profile?seconds=%d", reps[0].pprof, int(c.window.Seconds()))) }()
	}
	res.LoadStart = testcp.LoadAverage()
	gcs.startWindow(c.window)
	cpu0 := make([]float64, len(reps))
	for i, rp := range reps {
		if cpu0[i], err = testcp.CPUSeconds(rp.proc.Pid()); err != nil {
			return err
		}
	}
	t0 := time.Now()
	until := t0.Add(c.window)
	rss := make([]int64, len(reps))
	var wg sync.WaitGroup
	wg.Go(func() {
		for time.Now().Before(until) && sleep(ctx, 500*time.Millisecond) {
			for i, rp := range reps {
				if v, _, err := testcp.MemoryKiB(rp.proc.Pid()); err == nil {
					rss[i] = max(rss[i], v)
				}
			}
		}
	})
	r.drive(ctx, clusters, float64(c.samples)/c.window.Seconds(), until, rand.New(rand.NewPCG(uint64(len(clusters)), 7)))
	sleep(ctx, time.Until(until))
	elapsed := time.Since(t0).Seconds()
	for i, rp := range reps {
		cpu1, err := testcp.CPUSeconds(rp.proc.Pid())
		if err != nil {
			return err
		}
		m := fetch(rp.metrics)
		res.Replicas = append(res.Replicas, replicaResult{CPUCores: (cpu1 - cpu0[i]) / elapsed,
			Managed: gauge(m, "raypilot_scaler_clusters"), Members: gauge(m, "raypilot_scaler_shard_members")})
	}
	res.LoadEnd = testcp.LoadAverage()
	wg.Wait()
	for i := range res.Replicas {
		res.Replicas[i].RSSMaxMiB = float64(rss[i]) / 1024
	}
	res.Lost = r.finish(ctx, 5*time.Second)
	r.mu.Lock()
	react, wait, round := r.splits()
	r.mu.Unlock()
	res.Reactions = len(react)
	res.ReactP50ms, res.ReactP99ms, _ = quantiles(react)
	_, res.WaitP99ms, _ = quantiles(wait)
	_, res.RoundP99ms, _ = quantiles(round)

	if prof != nil {
		if data := <-prof; len(data) > 0 && os.MkdirAll(c.pprofDir, 0o755) == nil {
			res.Profile = filepath.Join(c.pprofDir, "scaler-shard-0.pprof")
			_ = os.WriteFile(res.Profile, data, 0o644)
		}
	}

	// SIGKILL the first replica: its clusters are read again by another
	// once its member Lease expired.
	victims := managedClusters(fetch(reps[0].metrics), gcs)
	res.Victims = len(victims)
	if err := syscall.Kill(reps[0].proc.Pid(), syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill a replica: %w", err)
	}
	killed := time.Now()
	for _, v := range victims {
		v.mu.Lock()
		v.mark = killed
		v.mu.Unlock()
	}
	fmt.Fprintf(os.Stderr, "scalercap: shards: killed a replica managing %d clusters\n", len(victims))
	var takeovers []time.Duration
	for deadline := killed.Add(shardLeaseDuration + 50*time.Second); ; {
		takeovers = takeovers[:0]
		for _, v := range victims {
			v.mu.Lock()
			if !v.firstAfter.IsZero() {
				takeovers = append(takeovers, v.firstAfter.Sub(killed))
			}
			v.mu.Unlock()
		}
		if len(takeovers) == len(victims) || time.Now().After(deadline) || !sleep(ctx, 200*time.Millisecond) {
			break
		}
	}
	res.NotTaken = len(victims) - len(takeovers)
	p50, _, maxMs := quantiles(takeovers)
	res.TakeoverP50s, res.TakeoverMaxS = p50/1000, maxMs/1000
	res.Drains, res.UnknownGCS = gcs.drains.Load(), gcs.unknown.Load()
	for _, rp := range reps {
		rp.proc.Stop()
	}
	reps = nil

	agents, overlaps, err := auditOverlaps(auditLog)
	if err != nil {
		return err
	}
	res.Overlaps = overlaps
	for a, n := range agents {
		if strings.HasPrefix(a, "scaler/") {
			res.AuditPatches += n
		}
	}
	shardsReport(c, res, agents)
	if c.out != "" {
		if err := testcp.WriteJSON(c.out, map[string]any{"shards": res, "interval": c.interval.String(), "patchesByUserAgent": agents}); err != nil {
			return err
		}
		fmt.Printf("\nresults written to %s\n", c.out)
	}
	return nil
}

// shardLog is what a replica logged about its membership (logger
// scaler.shard), the last 40 lines.
func shardLog(path string) string {
	data, _ := os.ReadFile(path)
	var lines []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, `"logger":"scaler.shard"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// groupSeries matches a per-group series' namespace and cluster labels.
var groupSeries = regexp.MustCompile(`^raypilot_scaler_workers_max\{[^}]*cluster="([^"]+)"[^}]*namespace="([^"]+)"`)

// managedClusters are the fake GCS clusters a replica has per-group series
// for on its metrics: the clusters it manages.
func managedClusters(metrics []byte, g *fakeGCS) []*fakeCluster {
	seen := map[string]bool{}
	var out []*fakeCluster
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, line := range strings.Split(string(metrics), "\n") {
		m := groupSeries.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := m[2] + "/" + m[1]
		if c := g.clusters[key]; c != nil && !seen[key] {
			seen[key] = true
			out = append(out, c)
		}
	}
	return out
}

// auditOverlaps reads the audit log: patches of RayClusters by user agent
// (a scaler replica's, "scaler/<identity>", carries its identity; others'
// as "other: <agent>"), and how many (cluster, second) pairs were patched
// by more than one replica.
func auditOverlaps(path string) (map[string]int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("audit log: %w", err)
	}
	defer f.Close()
	agents := map[string]int{}
	bySecond := map[string]map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct {
			Verb      string `json:"verb"`
			UserAgent string `json:"userAgent"`
			ObjectRef struct {
				Resource, Namespace, Name string
			} `json:"objectRef"`
			Received time.Time `json:"requestReceivedTimestamp"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return nil, 0, fmt.Errorf("audit log line: %w", err)
		}
		if ev.Verb != "patch" || ev.ObjectRef.Resource != "rayclusters" {
			continue
		}
		i := strings.Index(ev.UserAgent, " scaler/")
		if i < 0 {
			agents["other: "+ev.UserAgent]++
			continue
		}
		agent := ev.UserAgent[i+1:]
		agents[agent]++
		key := ev.ObjectRef.Namespace + "/" + ev.ObjectRef.Name + "@" + ev.Received.Truncate(time.Second).Format(time.RFC3339)
		if bySecond[key] == nil {
			bySecond[key] = map[string]bool{}
		}
		bySecond[key][agent] = true
	}
	overlaps := 0
	for _, a := range bySecond {
		if len(a) > 1 {
			overlaps++
		}
	}
	return agents, overlaps, sc.Err()
}

func shardsReport(c config, res *shardsResult, agents map[string]int) {
	var cpu, rss float64
	for _, r := range res.Replicas {
		cpu += r.CPUCores
		rss += r.RSSMaxMiB
	}
	n := float64(len(res.Replicas))
	fmt.Println()
	fmt.Printf("%-8s %9s %8s %9s %8s\n", "replica", "cpu_cores", "rss_max", "clusters", "members")
	for i, r := range res.Replicas {
		fmt.Printf("%-8d %9.3f %8.1f %9.0f %8.0f\n", i, r.CPUCores, r.RSSMaxMiB, r.Managed, r.Members)
	}
	fmt.Printf("shards   all: %.3f cores, RSS %.1f MiB summed; clusters summed %.0f of %d; every cluster had two rounds %.1fs after the replicas were ready\n",
		cpu, rss, sumManaged(res), res.Clusters, res.StartupSeconds)
	fmt.Printf("shards   load average (1 min) %.1f at the window's start, %.1f at its end, on %d CPUs\n", res.LoadStart, res.LoadEnd, runtime.NumCPU())
	fmt.Printf("shards   reaction: %d samples, p50 %.0f ms, p99 %.0f ms (wait for the next read p99 %.0f ms + read to patch p99 %.0f ms); %d without patch\n",
		res.Reactions, res.ReactP50ms, res.ReactP99ms, res.WaitP99ms, res.RoundP99ms, res.Lost)
	fmt.Printf("shards   SIGKILL: %d clusters of the killed replica, read again by another after p50 %.1f s, max %.1f s; %d not taken over\n",
		res.Victims, res.TakeoverP50s, res.TakeoverMaxS, res.NotTaken)
	names := slices.Sorted(func(yield func(string) bool) {
		for a := range agents {
			if !yield(a) {
				return
			}
		}
	})
	for _, a := range names {
		who := a
		if id, ok := strings.CutPrefix(a, "scaler/"); ok {
			who = "replica " + id
		}
		fmt.Printf("shards   audit: %d RayCluster patches by %s\n", agents[a], who)
	}
	fmt.Printf("shards   audit: %d patches by scalers, %d (cluster, second) pairs patched by two replicas; drains sent %d; GCS calls for unknown clusters %d\n",
		res.AuditPatches, res.Overlaps, res.Drains, res.UnknownGCS)
	verdict := func(ok bool, miss string) string {
		if ok {
			return "met"
		}
		return "missed by " + miss
	}
	worstCPU, worstRSS := 0.0, 0.0
	for _, r := range res.Replicas {
		worstCPU, worstRSS = max(worstCPU, r.CPUCores/(cpu/n)), max(worstRSS, r.RSSMaxMiB/(rss/n))
	}
	fmt.Printf("target   balance: highest replica CPU %.2f × the mean (≤ %.1f: %s); highest RSS %.2f × the mean (≤ %.1f: %s)\n",
		worstCPU, targetShareRatio, verdict(worstCPU <= targetShareRatio, fmt.Sprintf("%.2f", worstCPU-targetShareRatio)),
		worstRSS, targetShareRatio, verdict(worstRSS <= targetShareRatio, fmt.Sprintf("%.2f", worstRSS-targetShareRatio)))
	fmt.Printf("target   reaction p99 %.0f ms at --interval %s (≤ %.0f ms: %s)\n", res.ReactP99ms, c.interval, targetShardReactMs,
		verdict(res.ReactP99ms <= targetShardReactMs && res.Reactions > 0, fmt.Sprintf("%.0f ms", res.ReactP99ms-targetShardReactMs)))
	fmt.Printf("target   takeover after SIGKILL max %.1f s (≤ %.0f s: %s)\n", res.TakeoverMaxS, targetTakeoverS,
		verdict(res.NotTaken == 0 && res.Victims > 0 && res.TakeoverMaxS <= targetTakeoverS, fmt.Sprintf("%.1f s, %d not taken over", res.TakeoverMaxS-targetTakeoverS, res.NotTaken)))
	fmt.Printf("target   no cluster patched by two replicas in one second: %d (%s); no drain of a busy node: %d drains sent (%s)\n",
		res.Overlaps, verdict(res.Overlaps == 0 && res.AuditPatches > 0, fmt.Sprint(res.Overlaps)), res.Drains, verdict(res.Drains == 0, fmt.Sprint(res.Drains)))
}

func sumManaged(res *shardsResult) float64 {
	s := 0.0
	for _, r := range res.Replicas {
		s += r.Managed
	}
	return s
}
