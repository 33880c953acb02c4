package engine

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
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
