package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/benchcpu"
)

// benchGroups returns n worker groups of assorted shapes.
func benchGroups(n int) []Group {
	var gs []Group
	for i := range n {
		r := R{"CPU": float64(int(4) << (i % 5)), "memory": float64(16<<30) * float64(1+i%4)}
		if i%4 == 3 {
			r["GPU"] = float64(int(1) << (i % 3))
		}
		if i%7 == 0 {
			r["custom"] = 4
		}
		gs = append(gs, Group{Name: fmt.Sprintf("g%02d", i), Resources: r, MaxReplicas: 200})
	}
	return gs
}

// BenchmarkDecidePending10k: 10,000 pending requests over 50 shapes, 20
// worker groups, 100 running nodes half busy.
func BenchmarkDecidePending10k(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	w := newWorld(benchGroups(20)...)
	for i := range 100 {
		g := w.c.Groups[i%20]
		avail := R{}
		for k, v := range g.Resources {
			avail[k] = v * float64(rng.IntN(3)) / 2
		}
		w.running(fmt.Sprintf("p%03d", i), g.Name, avail, 0)
	}
	total := 0
	for i := range 50 {
		shape := R{"CPU": float64(1 + i%8)}
		if i%5 == 0 {
			shape["GPU"] = 1
		}
		if i%9 == 0 {
			shape["memory"] = float64(1 << 30)
		}
		if i%11 == 0 {
			shape["custom"] = 1
		}
		n := 200
		if i == 49 {
			n = 10000 - total
		}
		total += n
		w.demand(shape, n)
	}
	c, s, pods := w.input()
	b.ReportAllocs()
	for b.Loop() {
		Decide(c, s, pods, t0)
	}
}

// BenchmarkDecideIdleScan1000: 1,000 worker nodes, a third of them idle past
// the timeout, no demand.
func BenchmarkDecideIdleScan1000(b *testing.B) {
	w := newWorld(benchGroups(5)...)
	for i := range 1000 {
		g := w.c.Groups[i%5]
		idle, avail := time.Duration(0), R{"CPU": 0}
		if i%3 == 0 {
			idle, avail = 2*time.Minute, g.Resources
		}
		w.running(fmt.Sprintf("p%04d", i), g.Name, avail, idle)
	}
	for i := range w.c.Groups {
		w.c.Groups[i].MinReplicas, w.c.Groups[i].MaxReplicas = 20, 1000
	}
	c, s, pods := w.input()
	b.ReportAllocs()
	for b.Loop() {
		Decide(c, s, pods, t0)
	}
}

// BenchmarkDecidePlacementGroups100: 100 pending placement groups of every
// strategy over 50 running nodes.
func BenchmarkDecidePlacementGroups100(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 9))
	w := newWorld(benchGroups(10)...)
	for i := range 50 {
		g := w.c.Groups[i%10]
		w.running(fmt.Sprintf("p%02d", i), g.Name, g.Resources, 0)
	}
	strategies := []Strategy{Pack, Spread, StrictPack, StrictSpread}
	for i := range 100 {
		var bundles []R
		for range 2 + rng.IntN(7) {
			r := R{"CPU": float64(1 + rng.IntN(4))}
			if rng.IntN(5) == 0 {
				r["GPU"] = 1
			}
			bundles = append(bundles, r)
		}
		w.gang(fmt.Sprintf("pg%03d", i), strategies[i%4], bundles...)
	}
	c, s, pods := w.input()
	b.ReportAllocs()
	for b.Loop() {
		Decide(c, s, pods, t0)
	}
}

// benchDecide runs Decide on one input and reports how many pending shapes
// a round decided on, and the process CPU time per decision (garbage
// collection included): on a loaded machine the wall time per op also
// holds the time the benchmark waited for a core.
func benchDecide(b *testing.B, c Cluster, s State, pods []Pod) {
	b.ReportAllocs()
	var p Plan
	runtime.GC()
	reportCPU := benchcpu.Start(b)
	for b.Loop() {
		p = Decide(c, s, pods, t0)
	}
	reportCPU()
	shapes := len(s.Pending)
	if p.Truncated != nil {
		shapes = p.Truncated.Shapes
	}
	b.ReportMetric(float64(shapes), "shapes-decided")
}

// BenchmarkDecideDistinctShapes10k: 10,000 running workers (20 groups, half
// busy) and 20,000 distinct pending request shapes of one request each.
// Ray's scheduler needs nodes² × shapes here; the round's budget decides on
// a prefix. Baseline: BenchmarkDecideOneShape10k.
func BenchmarkDecideDistinctShapes10k(b *testing.B) {
	c, s, pods := distinctShapesInput(10000, 20000, false)
	benchDecide(b, c, s, pods)
}

// BenchmarkDecideOneShape10k: the same 10,000 workers with the same 20,000
// requests as one shape.
func BenchmarkDecideOneShape10k(b *testing.B) {
	c, s, pods := distinctShapesInput(10000, 1, false)
	s.Pending[0].Count = 20000
	benchDecide(b, c, s, pods)
}

// BenchmarkDecideDistinctNodes10k: as DistinctShapes10k, but every worker
// has a different amount of free memory, so no two nodes share a trial: the
// budget alone bounds the round.
func BenchmarkDecideDistinctNodes10k(b *testing.B) {
	c, s, pods := distinctShapesInput(10000, 20000, true)
	benchDecide(b, c, s, pods)
}

// BenchmarkDecideDistinctShapes1k: 1,000 workers, 1,000 distinct shapes.
func BenchmarkDecideDistinctShapes1k(b *testing.B) {
	c, s, pods := distinctShapesInput(1000, 1000, false)
	benchDecide(b, c, s, pods)
}

// BenchmarkDecideSmallCluster: the common round, a head, three workers of
// two groups (one idle past the timeout) and one pending shape.
func BenchmarkDecideSmallCluster(b *testing.B) {
	w := newWorld(grp("cpu", R{"CPU": 4, "memory": 8 << 30}, 0, 10), grp("gpu", R{"CPU": 8, "GPU": 1}, 0, 4)).
		head(R{"CPU": 0, "memory": 4 << 30, HeadResource: 1}, R{"memory": 4 << 30, HeadResource: 1}, 0).
		running("cpu-a", "cpu", R{"CPU": 1, "memory": 8 << 30}, 0).
		running("cpu-b", "cpu", R{"CPU": 4, "memory": 8 << 30}, 2*time.Minute).
		running("gpu-a", "gpu", R{"CPU": 8, "GPU": 0}, 0).
		demand(R{"CPU": 2}, 3)
	c, s, pods := w.input()
	b.ReportAllocs()
	for b.Loop() {
		Decide(c, s, pods, t0)
	}
}
