package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The head is identified by its marker resource, its Head flag or its pod's
// node-type label, never by its type name: a worker group named like the
// head group keeps exactly its own workers.
func TestHeadIsNeverAWorkerOfItsNamesake(t *testing.T) {
	base := func() *world {
		w := newWorld(grp(HeadGroupName, R{"CPU": 2}, 2, 2)).
			running("w-1", HeadGroupName, R{"CPU": 0}, 0).
			running("w-2", HeadGroupName, R{"CPU": 2}, time.Hour)
		return w
	}
	for _, tc := range []struct {
		name string
		head func(w *world)
	}{
		{"marker resource", func(w *world) {
			w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", InstanceID: "head-pod", Type: HeadGroupName, Status: NodeIdle,
				Total: R{"CPU": 2, HeadResource: 1}, Available: R{"CPU": 2, HeadResource: 1}, Idle: time.Hour})
		}},
		{"head pod by name", func(w *world) {
			w.pods = append(w.pods, Pod{Name: "head-pod", Group: HeadGroupName, Running: true, Head: true})
			w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", InstanceID: "head-pod", Type: HeadGroupName, Status: NodeIdle,
				Total: R{"CPU": 2}, Available: R{"CPU": 2}, Idle: time.Hour})
		}},
		{"head pod by IP", func(w *world) {
			w.pods = append(w.pods, Pod{Name: "head-pod", Group: HeadGroupName, IP: "10.0.0.1", Running: true, Head: true})
			w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", IP: "10.0.0.1", Type: HeadGroupName, Status: NodeIdle,
				Total: R{"CPU": 2}, Available: R{"CPU": 2}, Idle: time.Hour})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := base()
			tc.head(w)
			c, s, pods := w.input()
			// Several rounds: the plan must be stable, not churn a worker.
			for round := range 3 {
				p := Decide(c, s, pods, t0.Add(time.Duration(round)*time.Second))
				check(t, p, want{replicas: map[string]int{HeadGroupName: 2}})
				if err := checkPlan(c, s, pods, p); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	// The head's spare CPU still takes demand, as in Ray.
	w := base()
	w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", InstanceID: "head-pod", Type: HeadGroupName, Status: NodeRunning,
		Total: R{"CPU": 2, HeadResource: 1}, Available: R{"CPU": 2, HeadResource: 1}})
	w.demand(R{"CPU": 2}, 2)
	check(t, w.decide(), want{replicas: map[string]int{HeadGroupName: 2}})
}

// A Ray node status the engine does not know (UNSPECIFIED, or one a newer Ray
// adds) leaves the pod alone: counted, never terminated, and said.
func TestUnknownNodeStatusIsLeftAlone(t *testing.T) {
	for _, st := range []NodeStatus{NodeUnspecified, NodeStatus(5), NodeStatus(-1)} {
		t.Run(st.String(), func(t *testing.T) {
			w := oneGroup(0, 2).
				running("odd", "cpu", R{"CPU": 2}, time.Hour).
				running("idle", "cpu", R{"CPU": 2}, time.Hour).
				demand(R{"CPU": 2}, 3)
			w.s.Nodes[0].Status = st
			p := w.decide()
			// max 2: the odd pod holds a replica and takes no demand, the
			// idle one takes one request, two are infeasible; nothing is
			// launched and the odd pod is not removed.
			check(t, p, want{infeasible: 2, replicas: map[string]int{"cpu": 2}})
			if len(p.Warnings) != 1 || !strings.Contains(p.Warnings[0], "pod odd") || !strings.Contains(p.Warnings[0], st.String()) {
				t.Errorf("warnings %q", p.Warnings)
			}
		})
	}
	// With no demand an idle pod is removed, the odd one is not; a dead one
	// is, as before.
	w := oneGroup(0, 5).
		running("odd", "cpu", R{"CPU": 2}, time.Hour).
		running("idle", "cpu", R{"CPU": 2}, time.Hour).
		running("dead", "cpu", R{"CPU": 2}, 0)
	w.s.Nodes[0].Status, w.s.Nodes[2].Status = NodeStatus(7), NodeDead
	check(t, w.decide(), want{terminate: []string{"idle:IDLE", "dead:RAY_STOPPED"}, replicas: map[string]int{"cpu": 1}})
	// A restarted Ray with a DEAD node and one in an unknown status: the
	// unknown one wins, the pod stays.
	w = oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, time.Hour)
	w.s.Nodes[0].Status = NodeStatus(8)
	w.s.Nodes = append(w.s.Nodes, Node{ID: "dead-0", InstanceID: "a", Status: NodeDead})
	check(t, w.decide(), want{replicas: map[string]int{"cpu": 1}})
}

// Counts are combined with saturating arithmetic: no product or sum wraps
// around into a bound that lets more through, or blocks everything.
func TestSaturatingCounts(t *testing.T) {
	t.Run("maxReplicas x numOfHosts beyond int", func(t *testing.T) {
		w := newWorld(Group{Name: "g", Resources: R{"CPU": 1}, MaxReplicas: math.MaxInt, NumOfHosts: 2}).demand(R{"CPU": 1}, 3)
		check(t, w.decide(), want{launch: map[string]int{"g": 4}, replicas: map[string]int{"g": 2}})
	})
	t.Run("pending counts summing beyond int", func(t *testing.T) {
		w := oneGroup(0, 3).demand(R{"CPU": 1}, math.MaxInt).demand(R{"CPU": 2}, math.MaxInt)
		p := w.decide()
		if p.Launch["cpu"] != 3 || p.Replicas["cpu"] != 3 {
			t.Errorf("launch %v replicas %v", p.Launch, p.Replicas)
		}
	})
	t.Run("int32 extremes from a RayCluster, under a cluster cap", func(t *testing.T) {
		big := math.MaxInt32
		for _, g := range []Group{
			{Name: "g", Resources: R{"CPU": 1}, MinReplicas: 0, MaxReplicas: big, NumOfHosts: big, Replicas: 1},
			{Name: "g", Resources: R{"CPU": 1}, MinReplicas: big, MaxReplicas: big, NumOfHosts: big, Replicas: big},
			{Name: "g", Resources: R{"CPU": 1}, MinReplicas: 0, MaxReplicas: math.MaxInt, NumOfHosts: math.MaxInt, Replicas: math.MaxInt},
		} {
			c := Cluster{Groups: []Group{g, {Name: "h", Resources: R{"CPU": 1}, MaxReplicas: big, Replicas: 0}},
				MaxWorkers: 5, IdleTimeout: time.Minute, UpscalingSpeed: DefaultUpscalingSpeed}
			s := State{Pending: []ShapeCount{{Request: Request{Resources: R{"CPU": 1}}, Count: math.MaxInt}}}
			p := Decide(c, s, nil, t0)
			if err := checkPlan(c, s, nil, p); err != nil {
				t.Fatalf("%+v: %v", g, err)
			}
			// The replicas asked for hold the cap: group h gets nothing.
			if p.Launch["h"] != 0 || p.Replicas["h"] != 0 {
				t.Errorf("%+v: launch %v replicas %v", g, p.Launch, p.Replicas)
			}
			if g.Replicas > 1 && (p.Truncated == nil || p.Truncated.Replicas == 0) {
				t.Errorf("%+v: truncated %+v", g, p.Truncated)
			}
		}
	})
	t.Run("helpers", func(t *testing.T) {
		if mulSat(math.MaxInt/2+1, 2) != math.MaxInt || mulSat(-1, 5) != 0 || addSat(math.MaxInt, 1) != math.MaxInt ||
			addSat(math.MinInt, -1) != math.MinInt || ceilDiv(math.MaxInt, math.MaxInt) != 1 || ceilDiv(7, 2) != 4 {
			t.Error("saturating helpers")
		}
	})
}

// distinctShapes is a cluster of n running workers (groups of assorted
// shapes, half busy) and shapes distinct pending request shapes of one
// request each: the input Ray's scheduler needs nodes² × shapes for.
func distinctShapes(n, shapes int) (Cluster, State, []Pod) {
	return distinctShapesInput(n, shapes, false)
}

// distinctShapesInput is distinctShapes; with distinctNodes every worker has
// a different amount of free memory, so that no two are in the same state.
func distinctShapesInput(n, shapes int, distinctNodes bool) (Cluster, State, []Pod) {
	rng := rand.New(rand.NewPCG(7, 7))
	gs := benchGroups(20)
	for i := range gs {
		gs[i].MaxReplicas = 1 << 20
	}
	w := newWorld(gs...)
	for i := range n {
		g := w.c.Groups[i%20]
		avail := R{}
		for k, v := range g.Resources {
			avail[k] = v * float64(rng.IntN(3)) / 2
		}
		if distinctNodes {
			avail["memory"] = g.Resources["memory"] - float64(i)
		}
		w.running(fmt.Sprintf("p%05d", i), g.Name, avail, 0)
	}
	for i := range shapes {
		w.demand(R{"CPU": float64(1 + i%4), "memory": float64(1+i) * (1 << 20)}, 1)
	}
	return w.input()
}

// prefixState keeps the first k pending shapes in the order the engine
// decides them (Ray's), as the truncated round saw them.
func prefixState(c Cluster, s State, pods []Pod, k int) State {
	d := newDecider(c, s, pods, t0)
	runs, _ := d.shapeRuns(s.Pending, fromDemand)
	newSorter(runs, k).sortTo(k)
	out := s
	out.Pending = nil
	for _, r := range runs[:k] {
		out.Pending = append(out.Pending, ShapeCount{Request: r.q.orig, Count: r.n})
	}
	return out
}

// Demand beyond the round's budget is decided on its prefix in Ray's order:
// the plan is exactly Ray's for that prefix, says how much was left out, and
// does not depend on the input order.
func TestHugeDemandIsDecidedOnAPrefix(t *testing.T) {
	for _, tc := range []struct{ nodes, shapes int }{{1000, 4000}, {3000, 3000}, {0, 20000}} {
		t.Run(fmt.Sprintf("%d nodes x %d shapes", tc.nodes, tc.shapes), func(t *testing.T) {
			c, s, pods := distinctShapes(tc.nodes, tc.shapes)
			p := Decide(c, s, pods, t0)
			tr := p.Truncated
			if tr == nil || tr.Shapes < 1 || tr.Shapes >= tr.ShapesTotal || tr.ShapesTotal != tc.shapes || tr.Requests != tc.shapes-tr.Shapes {
				t.Fatalf("truncated %+v", tr)
			}
			if !strings.Contains(tr.String(), fmt.Sprintf("decided on %d of %d pending request shapes", tr.Shapes, tc.shapes)) {
				t.Errorf("message %q", tr.String())
			}
			if err := checkPlan(c, s, pods, p); err != nil {
				t.Fatal(err)
			}
			// Exactly Ray's plan for the prefix, decided without a budget.
			ps := prefixState(c, s, pods, tr.Shapes)
			want := decide(c, ps, pods, t0, math.MaxInt)
			if want.Truncated != nil {
				t.Fatalf("the prefix alone is truncated: %+v", want.Truncated)
			}
			got := p
			got.Truncated = nil
			if !reflect.DeepEqual(got, want) {
				t.Errorf("plan differs from the prefix's:\n got %+v\nwant %+v", got, want)
			}
			s2, pods2 := shuffled(rand.New(rand.NewPCG(3, 4)), s, pods)
			if p2 := Decide(c, s2, pods2, t0); !reflect.DeepEqual(p, p2) {
				t.Error("reordered input gives another plan")
			}
		})
	}
}

// Thousands of placement groups or request_resources bundle shapes are
// decided in part as well, and say so.
func TestHugeGangsAndConstraintsAreBounded(t *testing.T) {
	w := newWorld(grp("cpu", R{"CPU": 8}, 0, 1<<20))
	for i := range 3000 {
		w.running(fmt.Sprintf("p%04d", i), "cpu", R{"CPU": float64(i % 9)}, 0)
	}
	for i := range 3000 {
		w.gang(fmt.Sprintf("pg%04d", i), Pack, R{"CPU": 1 + float64(i%7)}, R{"CPU": 1})
	}
	var k Constraint
	for i := range 20000 {
		k.Bundles = append(k.Bundles, ShapeCount{Request: Request{Resources: R{"CPU": 1 + float64(i)/1e6}}, Count: 1})
	}
	w.s.Constraints = append(w.s.Constraints, k)
	c, s, pods := w.input()
	p := Decide(c, s, pods, t0)
	tr := p.Truncated
	if tr == nil || tr.Gangs >= tr.GangsTotal || tr.GangsTotal != 3000 || tr.Bundles >= tr.BundlesTotal || tr.BundlesTotal != 20000 {
		t.Fatalf("truncated %+v", tr)
	}
	for _, part := range []string{"placement groups", "request_resources bundle shapes"} {
		if !strings.Contains(tr.String(), part) {
			t.Errorf("message %q does not mention %s", tr.String(), part)
		}
	}
	if err := checkPlan(c, s, pods, p); err != nil {
		t.Fatal(err)
	}
}

// Resource names only requests use do not widen every node's vectors: a
// name no node and no group has cannot be placed anywhere (infeasible, as in
// Ray), and implicit resources beyond the bound wait for a later round.
func TestRequestNamesDoNotGrowTheUniverse(t *testing.T) {
	w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, 0)
	w.s.Nodes[0].Total["node:10.0.0.1"] = 1
	for i := range 5000 {
		w.demand(R{fmt.Sprintf("custom-%d", i): 1}, 1)
	}
	for i := range maxImplicitNames + 10 {
		w.demand(R{fmt.Sprintf("%s%03d", ImplicitResourcePrefix, i): 0.5}, 1)
	}
	c, s, pods := w.input()
	d := newDecider(c, s, pods, t0)
	if n := len(d.u.names); n > 2+maxImplicitNames {
		t.Fatalf("universe of %d names", n)
	}
	p := Decide(c, s, pods, t0)
	inf := 0
	for _, r := range p.Infeasible.Requests {
		inf += r.Count
	}
	if inf != 5000 || p.Truncated == nil || p.Truncated.ShapesTotal-p.Truncated.Shapes != 10 {
		t.Errorf("infeasible %d, truncated %+v", inf, p.Truncated)
	}
	if len(p.Launch) != 0 {
		t.Errorf("launch %v", p.Launch)
	}
}

// A decision names a few shapes, not thousands.
func TestDecisionTextIsBounded(t *testing.T) {
	w := oneGroup(0, 1000)
	w.c.MaxConcurrentLaunches = 1000
	for i := range 200 {
		w.demand(R{"CPU": 1 + float64(i)/1000}, 1)
	}
	p := w.decide()
	if len(p.Decisions) != 1 || len(p.Decisions[0].Reason) > 400 || !strings.Contains(p.Decisions[0].Reason, "; 195 pending requests of 195 more shapes") {
		t.Errorf("decisions %v", p.Decisions)
	}
}
