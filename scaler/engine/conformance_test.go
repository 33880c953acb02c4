package engine

import (
	"testing"
	"time"
)

// The conformance suite: every reference scenario of Ray's own scheduler
// and reconciler tests (python/ray/autoscaler/v2/tests/test_scheduler.py,
// test_reconciler.py) as a table case named after it. Scheduler-level cases lift the
// launch rate limit, as Ray's scheduler tests run without the reconciler.
//
// One translation recurs: KubeRay itself creates minReplicas pods (it reads
// replicas clamped to [minReplicas, maxReplicas]), so the workers Ray's
// scheduler launches for min workers are, on KubeRay, replicas already
// requested. The engine counts them as pending capacity, Launch holds only
// the workers beyond them, and Replicas holds the total. Cases with min
// workers state both.

type scenario struct {
	name  string
	world func() *world
	want  want
}

func runScenarios(t *testing.T, cases []scenario) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			check(t, tc.world().decide(), tc.want)
		})
	}
}

// unlimited lifts the launch rate limit (scheduler-only Ray tests).
func unlimited(w *world) *world {
	w.c.MaxConcurrentLaunches = 1 << 20
	return w
}

func cpu1Groups() *world {
	return newWorld(grp("t1", R{"CPU": 1}, 1, 10), grp("t2", R{"CPU": 1}, 0, 10), grp("t3", R{"CPU": 1}, 2, 10))
}

func TestConformance01MinWorkers(t *testing.T) {
	runScenarios(t, []scenario{
		// Ray: launch t1:1, t3:2.
		{"empty cluster", func() *world { return cpu1Groups() },
			want{replicas: map[string]int{"t1": 1, "t2": 0, "t3": 2}}},
		// Ray: launch t3:2.
		{"two running t1", func() *world {
			return cpu1Groups().running("t1-a", "t1", R{"CPU": 1}, 0).running("t1-b", "t1", R{"CPU": 1}, 0)
		}, want{replicas: map[string]int{"t1": 2, "t3": 2}}},
		// Ray: launch t3:2.
		{"t1 requested and allocated, a pod of a removed type", func() *world {
			w := cpu1Groups().pending("t1-a", "t1").pending("old-a", "removed")
			w.spec["t1"] = 2 // one replica has no pod yet: REQUESTED
			return w
		}, want{replicas: map[string]int{"t1": 2, "t3": 2}}},
		// The min step itself: a worker whose Ray died is replaced.
		{"min workers replace a dead worker", func() *world {
			w := cpu1Groups().running("t1-a", "t1", R{"CPU": 1}, 0)
			w.s.Nodes[0].Status = NodeDead
			return w
		}, want{launch: map[string]int{"t1": 1}, terminate: []string{"t1-a:RAY_STOPPED"}, replicas: map[string]int{"t1": 1, "t3": 2}}},
	})
}

func TestConformance02MaxWorkersHeadNodeType(t *testing.T) {
	// Ray's test has the head report a worker type, which then counts
	// towards that type's max (and the head is never picked). On KubeRay the
	// head is its own group: a worker group that shares the head's type name
	// (Ray's config reader would merge the two types) keeps its workers, and
	// the head counts towards no group.
	w := func() *world {
		w := newWorld(grp("t1", R{}, 0, 2)).pending("w-1", "t1").pending("w-2", "t1")
		w.s.Nodes = append(w.s.Nodes, Node{ID: "n-head", Type: "t1", Status: NodeRunning, Head: true, Total: R{}, Available: R{}})
		return w
	}
	runScenarios(t, []scenario{
		{"head plus two workers of a max-2 type", w, want{replicas: map[string]int{"t1": 2}}},
	})
}

func maxPerTypeWorld(minR, maxR int) func() *world {
	return func() *world {
		return newWorld(grp("t1", R{"CPU": 1}, minR, maxR)).
			pending("0", "t1").
			running("1", "t1", R{"CPU": 1}, 0).
			running("2", "t1", R{"CPU": 0.5}, 0)
	}
}

func TestConformance03MaxWorkersPerType(t *testing.T) {
	runScenarios(t, []scenario{
		{"max 2 removes the pod without Ray", maxPerTypeWorld(2, 2), want{
			terminate: []string{"0:MAX_NUM_NODE_PER_TYPE"}, replicas: map[string]int{"t1": 2}}},
		{"max 1 then removes the less utilized", maxPerTypeWorld(0, 1), want{
			terminate: []string{"0:MAX_NUM_NODE_PER_TYPE", "1:MAX_NUM_NODE_PER_TYPE"}, replicas: map[string]int{"t1": 1}}},
	})
}

func TestConformance04TerminateMaxAllocatedWorkersPerType(t *testing.T) {
	w := func(maxR int) func() *world {
		return func() *world {
			w := newWorld(grp("t1", R{"CPU": 1}, 0, maxR)).pending("a", "t1").pending("b", "t1")
			w.spec["t1"] = 2
			return w
		}
	}
	runScenarios(t, []scenario{
		{"two allocated, max 2", w(2), want{replicas: map[string]int{"t1": 2}}},
		{"two allocated, max 0", w(0), want{terminate: []string{"a:MAX_NUM_NODE_PER_TYPE", "b:MAX_NUM_NODE_PER_TYPE"}, replicas: map[string]int{"t1": 0}}},
	})
}

func maxNodesWorld(cap, t2max int) func() *world {
	return func() *world {
		w := newWorld(grp("t1", R{"CPU": 1}, 0, 2), grp("t2", R{"CPU": 1}, 0, t2max)).
			pending("0", "t1").
			running("1", "t1", R{"CPU": 1}, 10*time.Millisecond).
			running("2", "t2", R{"CPU": 0.5}, 0).
			running("3", "t2", R{"CPU": 0}, 0)
		w.c.MaxWorkers = cap
		w.spec["t2"] = 2
		return w
	}
}

func TestConformance05MaxNumNodes(t *testing.T) {
	runScenarios(t, []scenario{
		{"cap 4", maxNodesWorld(4, 2), want{}},
		{"cap 3", maxNodesWorld(3, 2), want{terminate: []string{"0:MAX_NUM_NODES"}}},
		{"cap 2", maxNodesWorld(2, 2), want{terminate: []string{"0:MAX_NUM_NODES", "1:MAX_NUM_NODES"}}},
		{"cap 1", maxNodesWorld(1, 2), want{terminate: []string{"0:MAX_NUM_NODES", "1:MAX_NUM_NODES", "2:MAX_NUM_NODES"}}},
		{"cap 1 and t2 max 0", maxNodesWorld(1, 0), want{
			terminate: []string{"0:MAX_NUM_NODES", "2:MAX_NUM_NODE_PER_TYPE", "3:MAX_NUM_NODE_PER_TYPE"},
			replicas:  map[string]int{"t1": 1, "t2": 0}}},
	})
}

func TestConformance06SingleResources(t *testing.T) {
	t1 := func() *world { return newWorld(grp("t1", R{"CPU": 1}, 0, 10)) }
	runScenarios(t, []scenario{
		{"one CPU starts a node", func() *world { return t1().demand(R{"CPU": 1}, 1) },
			want{launch: map[string]int{"t1": 1}, replicas: map[string]int{"t1": 1}}},
		{"three CPUs start three nodes", func() *world { return t1().demand(R{"CPU": 1}, 3) },
			want{launch: map[string]int{"t1": 3}}},
		{"an existing node with room absorbs it", func() *world {
			return t1().running("a", "t1", R{"CPU": 1}, 0).demand(R{"CPU": 1}, 1)
		}, want{}},
		{"an existing node with 0.9 CPU does not", func() *world {
			return t1().running("a", "t1", R{"CPU": 0.9}, 0).demand(R{"CPU": 1}, 1)
		}, want{launch: map[string]int{"t1": 1}}},
		{"a requested replica absorbs it", func() *world {
			w := t1().demand(R{"CPU": 1}, 1)
			w.spec["t1"] = 1
			return w
		}, want{replicas: map[string]int{"t1": 1}}},
		{"an allocated pod absorbs it", func() *world { return t1().pending("a", "t1").demand(R{"CPU": 1}, 1) }, want{}},
	})
}

const implicitA = ImplicitResourcePrefix + "a"

func TestConformance07ImplicitResources(t *testing.T) {
	t1 := func() *world { return newWorld(grp("t1", R{"CPU": 1}, 0, 10)) }
	runScenarios(t, []scenario{
		{"implicit resource scales up", func() *world { return t1().demand(R{implicitA: 1}, 1) },
			want{launch: map[string]int{"t1": 1}}},
		{"an existing node holds implicit and CPU together", func() *world {
			return t1().running("a", "t1", R{"CPU": 1}, 0).demand(R{implicitA: 1}, 1).demand(R{"CPU": 1}, 1)
		}, want{}},
	})
}

func TestConformance08MaxWorkerNumWithDemand(t *testing.T) {
	runScenarios(t, []scenario{
		{"cap 2 with one node", func() *world {
			w := newWorld(grp("t1", R{"CPU": 1}, 0, 10)).running("a", "t1", R{"CPU": 1}, 0).demand(R{"CPU": 1}, 3)
			w.c.MaxWorkers = 2
			return w
		}, want{launch: map[string]int{"t1": 1}, infeasible: 1}},
	})
}

func TestConformance09MultiRequestsFittable(t *testing.T) {
	types := func() *world { return newWorld(grp("t1", R{"CPU": 1, "GPU": 1}, 0, 1), grp("t2", R{"CPU": 3}, 0, 1)) }
	runScenarios(t, []scenario{
		{"CPU x3 then CPU+GPU", func() *world { return types().demand(R{"CPU": 1}, 3).demand(R{"CPU": 1, "GPU": 1}, 1) },
			want{launch: map[string]int{"t1": 1, "t2": 1}}},
		{"CPU+GPU then CPU x3", func() *world { return types().demand(R{"CPU": 1, "GPU": 1}, 1).demand(R{"CPU": 1}, 3) },
			want{launch: map[string]int{"t1": 1, "t2": 1}}},
		{"fractional GPU bundles", func() *world {
			return types().demand(R{"CPU": 2}, 1).demand(R{"CPU": 1}, 1).demand(R{"CPU": 0.5, "GPU": 0.5}, 2)
		}, want{launch: map[string]int{"t1": 1, "t2": 1}}},
		{"existing fragmentation", func() *world {
			return types().running("a", "t1", R{"CPU": 0, "GPU": 1}, 0).demand(R{"CPU": 1}, 2).demand(R{"CPU": 1, "GPU": 1}, 1)
		}, want{launch: map[string]int{"t2": 1}, infeasible: 1}},
	})
}

func TestConformance10MultiNodeTypesScore(t *testing.T) {
	types := func() *world {
		return newWorld(grp("large", R{"CPU": 10}, 0, 1), grp("small", R{"CPU": 5}, 0, 1), grp("gpu", R{"CPU": 2, "GPU": 2}, 0, 1))
	}
	runScenarios(t, []scenario{
		{"CPU 1 picks small", func() *world { return types().demand(R{"CPU": 1}, 1) }, want{launch: map[string]int{"small": 1}}},
		{"CPU 2 picks small", func() *world { return types().demand(R{"CPU": 2}, 1) }, want{launch: map[string]int{"small": 1}}},
	})
}

func TestConformance11GPUAvoidance(t *testing.T) {
	types := func() *world {
		return newWorld(grp("gpu", R{"CPU": 1, "GPU": 2}, 0, 1), grp("multi", R{"CPU": 2, "XXX": 2}, 0, 1))
	}
	runScenarios(t, []scenario{
		{"CPU work avoids the GPU type", func() *world { return types().demand(R{"CPU": 1}, 1) }, want{launch: map[string]int{"multi": 1}}},
		{"AUTOSCALER_CONSERVE_GPU_NODES=0", func() *world {
			w := types().demand(R{"CPU": 1}, 1)
			w.c.SpendGPUNodesOnCPUWork = true
			return w
		}, want{launch: map[string]int{"gpu": 1}}},
	})
}

func TestConformance12ResourceConstraints(t *testing.T) {
	types := func() *world { return newWorld(grp("cpu", R{"CPU": 1}, 1, 5), grp("gpu", R{"CPU": 1, "GPU": 2}, 0, 1)) }
	runScenarios(t, []scenario{
		// Ray: launch cpu:1 (the min worker).
		{"min worker satisfies the constraint", func() *world { return types().constraint(R{"CPU": 1}) },
			want{replicas: map[string]int{"cpu": 1, "gpu": 0}}},
		// Ray: launch cpu:1, gpu:1.
		{"constraint launches extra nodes", func() *world { return types().constraint(R{"CPU": 1}, R{"CPU": 1}, R{"GPU": 1}) },
			want{launch: map[string]int{"gpu": 1}, replicas: map[string]int{"cpu": 1, "gpu": 1}}},
		// Ray: launch cpu:1 only.
		{"all or nothing", func() *world { return types().constraint(R{"CPU": 1}, R{"CPU": 1}, R{"GPU": 2}, R{"GPU": 2}) },
			want{constraints: 1, replicas: map[string]int{"cpu": 1, "gpu": 0}}},
	})
}

func TestConformance13OutdatedNodes(t *testing.T) {
	// On KubeRay the launch-config check is disabled: a worker whose group
	// changed since it started is left alone.
	runScenarios(t, []scenario{
		{"config changed under a running worker", func() *world {
			w := newWorld(grp("cpu", R{"CPU": 1}, 2, 5))
			w.runningTotal("old", "cpu", R{"CPU": 4}, R{"CPU": 4}, 0).running("new", "cpu", R{"CPU": 1}, 0)
			w.head(R{"CPU": 0}, R{"CPU": 0}, 0)
			return w
		}, want{}},
	})
}

func idleWorld(timeout time.Duration) *world {
	w := newWorld(grp("cpu", R{"CPU": 1}, 0, 5))
	w.c.IdleTimeout = timeout
	w.running("busy", "cpu", R{"CPU": 0}, 0).running("idle", "cpu", R{"CPU": 1}, 5*time.Second)
	w.head(R{"CPU": 0}, R{"CPU": 0}, 999*time.Second)
	return w
}

func TestConformance14IdleTermination(t *testing.T) {
	cases := []scenario{
		{"timeout 1s", func() *world { return idleWorld(time.Second) }, want{terminate: []string{"idle:IDLE"}, replicas: map[string]int{"cpu": 1}}},
		{"timeout 2s", func() *world { return idleWorld(2 * time.Second) }, want{terminate: []string{"idle:IDLE"}}},
		{"timeout 10s", func() *world { return idleWorld(10 * time.Second) }, want{}},
		{"pending demand keeps it", func() *world { return idleWorld(time.Second).demand(R{"CPU": 1}, 2) },
			want{launch: map[string]int{"cpu": 1}}},
		{"a constraint keeps it", func() *world { return idleWorld(time.Second).constraint(R{"CPU": 1}, R{"CPU": 1}) }, want{}},
		{"a STRICT_SPREAD gang keeps it", func() *world {
			return idleWorld(time.Second).gang("pg1", StrictSpread, R{"CPU": 1}, R{"CPU": 1})
		}, want{launch: map[string]int{"cpu": 1}}},
	}
	runScenarios(t, cases)
}

func TestConformance15IdleTerminationWithMinWorker(t *testing.T) {
	w := func(minR int) func() *world {
		return func() *world {
			w := newWorld(grp("cpu", R{"CPU": 1}, minR, 5)).running("idle", "cpu", R{"CPU": 1}, 5*time.Second)
			w.c.IdleTimeout = time.Second
			return w
		}
	}
	runScenarios(t, []scenario{
		{"min 0 terminates", w(0), want{terminate: []string{"idle:IDLE"}, replicas: map[string]int{"cpu": 0}}},
		{"min 1 keeps", w(1), want{replicas: map[string]int{"cpu": 1}}},
	})
}

func TestConformance16PerTypeIdleTimeout(t *testing.T) {
	w := func(typeTimeout time.Duration) func() *world {
		return func() *world {
			w := newWorld(grp("cpu", R{"CPU": 1}, 0, 5)).running("idle", "cpu", R{"CPU": 1}, 5*time.Second)
			w.c.IdleTimeout = 1000 * time.Hour
			w.group("cpu").IdleTimeout = dur(typeTimeout)
			return w
		}
	}
	runScenarios(t, []scenario{
		{"type timeout 1s", w(time.Second), want{terminate: []string{"idle:IDLE"}}},
		{"type timeout 2s", w(2 * time.Second), want{terminate: []string{"idle:IDLE"}}},
		{"type timeout 10s", w(10 * time.Second), want{}},
		{"type timeout equal to idle", w(5 * time.Second), want{}},
	})
}

func TestConformance17GangScheduling(t *testing.T) {
	n := func() *world { return newWorld(grp("n", R{"CPU": 2}, 0, 5)) }
	runScenarios(t, []scenario{
		{"STRICT_PACK 2xCPU1 on one node", func() *world { return n().gang("pg", StrictPack, R{"CPU": 1}, R{"CPU": 1}) },
			want{launch: map[string]int{"n": 1}}},
		{"STRICT_SPREAD 2xCPU1 on two nodes", func() *world { return n().gang("pg", StrictSpread, R{"CPU": 1}, R{"CPU": 1}) },
			want{launch: map[string]int{"n": 2}}},
		{"STRICT_PACK 2xCPU3 is infeasible", func() *world { return n().gang("pg", StrictPack, R{"CPU": 3}, R{"CPU": 3}) },
			want{gangs: 1}},
	})
}

func TestConformance18GangSchedulingWithOthers(t *testing.T) {
	// Ray's test_gang_scheduling_with_others: min workers, a constraint,
	// three gangs and task demand together.
	w := func() *world {
		w := unlimited(newWorld(grp("type_1", R{"CPU": 4}, 2, 4), grp("type_2", R{"CPU": 1, "GPU": 1}, 0, 10)))
		w.c.IdleTimeout = 999 * time.Second
		w.running("i-1", "type_1", R{"CPU": 2}, 0).running("i-2", "type_2", R{"CPU": 1, "GPU": 1}, 0)
		w.gang("anti", StrictSpread, R{"CPU": 2}, R{"CPU": 2}, R{"CPU": 2}, R{"CPU": 2})
		w.gang("aff", StrictPack, R{"CPU": 3}, R{"CPU": 3})
		w.gang("none", Pack, R{"CPU": 1}, R{"CPU": 1}, R{"CPU": 1})
		w.demand(R{"CPU": 2}, 1).demand(R{"GPU": 1, "CPU": 1}, 1).demand(R{"GPU": 1}, 1)
		k := Constraint{Bundles: []ShapeCount{{Request: Request{Resources: R{"CPU": 1}}, Count: 10}}}
		w.s.Constraints = append(w.s.Constraints, k)
		return w
	}
	// Ray: launch type_1:3 (one of them for min workers), type_2:1.
	runScenarios(t, []scenario{{"mixed demand", w, want{launch: map[string]int{"type_1": 2, "type_2": 1}, gangs: 1,
		replicas: map[string]int{"type_1": 4, "type_2": 2}}}})
}

func TestConformance19BinPack(t *testing.T) {
	types := func(res ...R) *world {
		var gs []Group
		for i, r := range res {
			gs = append(gs, grp("type_"+string(rune('1'+i)), r, 0, 1))
		}
		return newWorld(gs...)
	}
	gpu2x2 := func(w *world) *world { return w.demand(R{"GPU": 2}, 2) }
	runScenarios(t, []scenario{
		{"CPU 0 node", func() *world { return gpu2x2(types(R{"CPU": 0})) }, want{infeasible: 2}},
		{"GPU 2 node", func() *world { return gpu2x2(types(R{"GPU": 2})) }, want{launch: map[string]int{"type_1": 1}, infeasible: 1}},
		{"GPU 4 node", func() *world { return gpu2x2(types(R{"GPU": 4})) }, want{launch: map[string]int{"type_1": 1}}},
		{"GPU 2 and GPU 2 CPU 2", func() *world { return gpu2x2(types(R{"GPU": 2}, R{"GPU": 2, "CPU": 2})) },
			want{launch: map[string]int{"type_1": 1, "type_2": 1}}},
		{"GPU 2 and CPU 2", func() *world { return gpu2x2(types(R{"GPU": 2}, R{"CPU": 2})) },
			want{launch: map[string]int{"type_1": 1}, infeasible: 1}},
		{"anti-affinity on a single GPU 3 node", func() *world {
			return types(R{"GPU": 3}).gang("pg", StrictSpread, R{"GPU": 1}, R{"GPU": 1})
		}, want{gangs: 1}},
		{"no anti-affinity on a single GPU 3 node", func() *world {
			return types(R{"GPU": 3}).gang("pg", Pack, R{"GPU": 1}, R{"GPU": 1})
		}, want{launch: map[string]int{"type_1": 1}}},
		{"implicit 0.5 + 0.5", func() *world { return types(R{"CPU": 1}).demand(R{implicitA: 0.5}, 2) },
			want{launch: map[string]int{"type_1": 1}}},
		{"implicit 1 + 0.5", func() *world { return types(R{"CPU": 1}).demand(R{implicitA: 1}, 1).demand(R{implicitA: 0.5}, 1) },
			want{launch: map[string]int{"type_1": 1}, infeasible: 1}},
	})
}

func TestConformance20NodeScheduleScore(t *testing.T) {
	cases := []struct {
		name     string
		node     R
		requests []R
		left     int
		want     score
	}{
		{"CPU1 + [CPU1]", R{"CPU": 1}, []R{{"CPU": 1}}, 0, score{gpuOK: true, types: 1, min: 1, mean: 1}},
		{"GPU4 + [GPU2]", R{"GPU": 4}, []R{{"GPU": 2}}, 0, score{gpuOK: true, types: 1, min: 0.5, mean: 0.5}},
		{"GPU4 + [GPU1, GPU1]", R{"GPU": 4}, []R{{"GPU": 1}, {"GPU": 1}}, 0, score{gpuOK: true, types: 1, min: 0.5, mean: 0.5}},
		{"GPU2 + [GPU2]", R{"GPU": 2}, []R{{"GPU": 2}}, 0, score{gpuOK: true, types: 1, min: 2, mean: 2}},
		{"GPU1 + [GPU1 CPU1, GPU1]", R{"GPU": 1}, []R{{"GPU": 1, "CPU": 1}, {"GPU": 1}}, 1, score{gpuOK: true, types: 1, min: 1, mean: 1}},
		{"GPU1 CPU1 + [GPU1 CPU1, GPU1]", R{"GPU": 1, "CPU": 1}, []R{{"GPU": 1, "CPU": 1}, {"GPU": 1}}, 1, score{gpuOK: true, types: 2, min: 1, mean: 1}},
		{"GPU2 TPU1 + [GPU2]", R{"GPU": 2, "TPU": 1}, []R{{"GPU": 2}}, 0, score{gpuOK: true, types: 1, min: 0, mean: 1}},
		{"CPU64 + [CPU64]", R{"CPU": 64}, []R{{"CPU": 64}}, 0, score{gpuOK: true, types: 1, min: 64, mean: 64}},
		{"CPU64 + [CPU32]", R{"CPU": 64}, []R{{"CPU": 32}}, 0, score{gpuOK: true, types: 1, min: 8, mean: 8}},
		{"CPU64 + [CPU16, CPU16]", R{"CPU": 64}, []R{{"CPU": 16}, {"CPU": 16}}, 0, score{gpuOK: true, types: 1, min: 8, mean: 8}},
		{"GPU1 CPU1 + [CPU1]", R{"GPU": 1, "CPU": 1}, []R{{"CPU": 1}}, 0, score{gpuOK: false, types: 1, min: 0, mean: 0.5}},
		{"GPU1 CPU1 + [CPU1 GPU1]", R{"GPU": 1, "CPU": 1}, []R{{"CPU": 1, "GPU": 1}}, 0, score{gpuOK: true, types: 2, min: 1, mean: 1}},
		{"GPU1 CPU1 + [GPU1]", R{"GPU": 1, "CPU": 1}, []R{{"GPU": 1}}, 0, score{gpuOK: true, types: 1, min: 0, mean: 0.5}},
		{"CPU0 custom1 + [custom1]", R{"CPU": 0, "custom": 1}, []R{{"custom": 1}}, 0, score{gpuOK: true, types: 1, min: 1, mean: 1}},
		{"CPU0 custom1 + [CPU1]", R{"CPU": 0, "custom": 1}, []R{{"CPU": 1}}, 1, score{gpuOK: true, types: 0, min: 0, mean: 0}},
		{"CPU1 + [implicit1]", R{"CPU": 1}, []R{{implicitA: 1}}, 0, score{gpuOK: true, types: 0, min: 0, mean: 0}},
		{"CPU1 + [implicit1, implicit1]", R{"CPU": 1}, []R{{implicitA: 1}, {implicitA: 1}}, 1, score{gpuOK: true, types: 0, min: 0, mean: 0}},
	}
	for _, tc := range cases {
		for _, src := range []source{srcDemand, srcConstraint} {
			t.Run(tc.name, func(t *testing.T) {
				left, sc := trialScore(tc.node, nil, tc.requests, nil, src)
				sc.avail, sc.placed = 0, 0
				if left != tc.left || sc != tc.want {
					t.Errorf("left %d, score %+v; want left %d, score %+v", left, sc, tc.left, tc.want)
				}
			})
		}
	}
	t.Run("label selector: only the third of three matches", func(t *testing.T) {
		sel := []LabelSelector{selIn("acc", "B200"), selIn("acc", "H100"), selIn("acc", "A100")}
		_, sc := trialScore(R{"CPU": 1}, map[string]string{"acc": "A100"}, []R{{"CPU": 1}}, sel, srcDemand)
		if sc.label != 1 {
			t.Errorf("label score %d, want 1", sc.label)
		}
	})
}

// trialScore packs requests onto one fresh node of the given resources and
// returns the number of requests left and the score, like Ray's
// SchedulingNode.try_schedule in test_node_schedule_score.
func trialScore(node R, labels map[string]string, reqs []R, sel []LabelSelector, src source) (int, score) {
	w := newWorld(Group{Name: "type_1", Resources: node, Labels: labels, MaxReplicas: 1})
	for _, r := range reqs {
		w.s.Pending = append(w.s.Pending, ShapeCount{Request: Request{Resources: r, Selectors: sel}, Count: 1})
	}
	c, s, p := w.input()
	d := newDecider(c, s, p, t0)
	var runs []run
	for _, r := range s.Pending {
		runs = append(runs, run{d.u.compile(r.Request, fromDemand), 1})
	}
	sortRuns(runs)
	runs = mergeAdjacent(runs)
	cd := cand{n: d.fresh(0, kindNew)}
	b := newBatch(runs)
	total := b.remaining
	d.trial(&cd, b, src)
	placed := 0
	for _, tk := range cd.took {
		placed += tk.n
	}
	if cd.dead {
		cd.sc = d.score(cd.n, &d.scratch, src)
	}
	return total - placed, cd.sc
}

func labelWorld() *world {
	return newWorld(
		Group{Name: "tpu_node", Resources: R{"CPU": 4, "TPU": 4}, Labels: map[string]string{"acc": "TPU-V6E"}, MaxReplicas: 2},
		Group{Name: "gpu_node", Resources: R{"CPU": 4, "GPU": 4}, Labels: map[string]string{"acc": "A100"}, MaxReplicas: 2},
	)
}

func TestConformance23Labels(t *testing.T) {
	withSel := func(w *world, n int, sel ...LabelSelector) *world {
		w.s.Pending = append(w.s.Pending, ShapeCount{Request: Request{Resources: R{"CPU": 1}, Selectors: sel}, Count: n})
		return w
	}
	runScenarios(t, []scenario{
		{"an existing node with a matching label absorbs demand", func() *world {
			w := labelWorld()
			w.runningTotal("g-1", "gpu_node", R{"CPU": 4, "GPU": 4}, R{"CPU": 4, "GPU": 4}, 0)
			w.s.Nodes[0].Labels = map[string]string{"acc": "A100"}
			return withSel(w, 1, selIn("acc", "A100"))
		}, want{}},
		{"accelerator in [A100] launches the A100 type", func() *world { return withSel(labelWorld(), 1, selIn("acc", "A100")) },
			want{launch: map[string]int{"gpu_node": 1}}},
		{"fallback [TPU, A100] prefers the TPU type", func() *world {
			return withSel(labelWorld(), 1, selIn("acc", "TPU-V6E"), selIn("acc", "A100"))
		}, want{launch: map[string]int{"tpu_node": 1}}},
		{"fallback [B200, A100] takes the A100 type", func() *world {
			return withSel(labelWorld(), 1, selIn("acc", "B200"), selIn("acc", "A100"))
		}, want{launch: map[string]int{"gpu_node": 1}}},
		{"STRICT_PACK bundles with different selectors are not merged", func() *world {
			w := labelWorld()
			w.s.Gangs = append(w.s.Gangs, Gang{ID: "pg", Strategy: StrictPack, Bundles: []Request{
				{Resources: R{"CPU": 1}, Selectors: []LabelSelector{selIn("acc", "A100")}},
				{Resources: R{"CPU": 1}, Selectors: []LabelSelector{selIn("acc", "TPU-V6E")}},
			}})
			return w
		}, want{launch: map[string]int{"gpu_node": 1, "tpu_node": 1}}},
		{"same-selector STRICT_PACK bundles that do not fit one node", func() *world {
			w := labelWorld()
			w.s.Gangs = append(w.s.Gangs, Gang{ID: "pg", Strategy: StrictPack, Bundles: []Request{
				{Resources: R{"CPU": 3}, Selectors: []LabelSelector{selIn("acc", "A100")}},
				{Resources: R{"CPU": 3}, Selectors: []LabelSelector{selIn("acc", "A100")}},
			}})
			return w
		}, want{gangs: 1}},
	})
}

func TestConformance24AvailabilityTieBreak(t *testing.T) {
	three := func(a1, a2, a3 *float64) func() *world {
		return func() *world {
			return newWorld(
				Group{Name: "gpu1", Resources: R{"GPU": 1}, MaxReplicas: 1, Availability: a1},
				Group{Name: "gpu2", Resources: R{"GPU": 1}, MaxReplicas: 1, Availability: a2},
				Group{Name: "gpu3", Resources: R{"GPU": 1}, MaxReplicas: 1, Availability: a3},
			).demand(R{"GPU": 1}, 1)
		}
	}
	runScenarios(t, []scenario{
		{"scores 0.1, 1, 0.2", three(ptr(0.1), ptr(1.0), ptr(0.2)), want{launch: map[string]int{"gpu2": 1}}},
		{"a missing score means 1.0", three(nil, ptr(0.1), ptr(0.2)), want{launch: map[string]int{"gpu1": 1}}},
		{"utilization dominates availability", func() *world {
			return newWorld(
				Group{Name: "big", Resources: R{"GPU": 8}, MaxReplicas: 1, Availability: ptr(1.0)},
				Group{Name: "fit", Resources: R{"GPU": 1}, MaxReplicas: 1, Availability: ptr(0.1)},
			).demand(R{"GPU": 1}, 1)
		}, want{launch: map[string]int{"fit": 1}}},
	})
}

func TestConformance25LaunchRate(t *testing.T) {
	type combo struct{ maxc, allocated, requested, running int }
	combos := []combo{{1, 0, 0, 0}, {10, 0, 0, 0}, {1, 0, 1, 1}, {1, 1, 0, 1}, {10, 1, 0, 1}, {10, 0, 1, 1}, {10, 5, 5, 5}}
	for _, speed := range []float64{0, 0.1, 0.5, 1, 100} {
		for _, cb := range combos {
			expected := min(max(1, ceilInt(speed*float64(max(cb.running, 1)))), max(0, cb.maxc-cb.requested))
			if got := launchBudget(speed, cb.running, cb.requested, cb.maxc, 1000); got != expected {
				t.Errorf("launchBudget(speed %v, %+v) = %d, want %d", speed, cb, got, expected)
			}
			// The same through Decide: queued = 1000 pending single-CPU tasks.
			w := newWorld(grp("t", R{"CPU": 1}, 0, 5000))
			w.c.UpscalingSpeed, w.c.MaxConcurrentLaunches = speed, cb.maxc
			for i := range cb.running {
				w.running(podName("r", i), "t", R{"CPU": 0}, 0)
			}
			for i := range cb.allocated {
				w.pending(podName("a", i), "t")
			}
			w.spec["t"] = cb.running + cb.allocated + cb.requested
			w.demand(R{"CPU": 1}, 1000+cb.allocated+cb.requested)
			if got := w.decide().Launch["t"]; got != expected {
				t.Errorf("Decide(speed %v, %+v) launches %d, want %d", speed, cb, got, expected)
			}
		}
	}
}

func ceilInt(f float64) int {
	n := int(f)
	if float64(n) < f {
		n++
	}
	return n
}

func podName(prefix string, i int) string {
	return prefix + "-" + string(rune('a'+i/26)) + string(rune('a'+i%26))
}

func TestConformance26KubeRayReplicas(t *testing.T) {
	g := func(replicas, minR int) *world {
		w := newWorld(grp("small", R{"CPU": 1}, minR, 10))
		w.spec["small"] = replicas
		return w
	}
	runScenarios(t, []scenario{
		{"launch one with replicas 1 writes 2", func() *world {
			return g(1, 0).running("p-1", "small", R{"CPU": 0}, 0).demand(R{"CPU": 1}, 1)
		}, want{launch: map[string]int{"small": 1}, replicas: map[string]int{"small": 2}}},
		{"terminate the only worker writes 0", func() *world {
			w := g(1, 0).running("p-1", "small", R{"CPU": 1}, 2*time.Minute)
			return w
		}, want{terminate: []string{"p-1:IDLE"}, replicas: map[string]int{"small": 0}}},
		{"a listed pod that still exists does not count", func() *world {
			w := g(0, 0).running("p-1", "small", R{"CPU": 1}, 0).demand(R{"CPU": 1}, 1)
			w.pods[0].ListedForDeletion = true
			return w
		}, want{launch: map[string]int{"small": 1}, replicas: map[string]int{"small": 1}}},
		{"minReplicas above replicas: max(replicas, min) + 1", func() *world {
			return g(1, 3).running("p-1", "small", R{"CPU": 0}, 0).pending("p-2", "small").pending("p-3", "small").demand(R{"CPU": 1}, 3)
		}, want{launch: map[string]int{"small": 1}, replicas: map[string]int{"small": 4}}},
		{"replicas above observed pods: launch writes replicas + 1", func() *world {
			return g(3, 0).running("p-1", "small", R{"CPU": 0}, 0).demand(R{"CPU": 1}, 3)
		}, want{launch: map[string]int{"small": 1}, replicas: map[string]int{"small": 4}}},
		{"replicas above observed pods: terminate writes replicas - 1", func() *world {
			return g(3, 0).running("p-1", "small", R{"CPU": 1}, 2*time.Minute)
		}, want{terminate: []string{"p-1:IDLE"}, replicas: map[string]int{"small": 2}}},
		{"replicas lowered below observed pods: terminate writes observed - 1", func() *world {
			return g(0, 0).running("p-1", "small", R{"CPU": 0}, 0).running("p-2", "small", R{"CPU": 1}, 2*time.Minute)
		}, want{terminate: []string{"p-2:IDLE"}, replicas: map[string]int{"small": 1}}},
	})
}

// Ray's test_get_nodes_packing_heuristic and test_min_workers_and_others
// compare the whole launch dict, which pins down the greedy order (including
// the way a picked type goes to the end of the candidate pool).
func TestConformancePackingHeuristic(t *testing.T) {
	aws := func() *world {
		return unlimited(newWorld(
			grp("m4.large", R{"CPU": 2}, 0, 10),
			grp("m4.4xlarge", R{"CPU": 16}, 0, 8),
			grp("m4.16xlarge", R{"CPU": 64}, 0, 4),
			grp("p2.xlarge", R{"CPU": 16, "GPU": 1}, 0, 10),
			grp("p2.8xlarge", R{"CPU": 32, "GPU": 8}, 0, 4),
		))
	}
	d := func(w *world, r R, n int) *world { return w.demand(r, n) }
	runScenarios(t, []scenario{
		{"GPU8", func() *world { return d(aws(), R{"GPU": 8}, 1) }, want{launch: map[string]int{"p2.8xlarge": 1}}},
		{"GPU1 x6", func() *world { return d(aws(), R{"GPU": 1}, 6) }, want{launch: map[string]int{"p2.8xlarge": 1}}},
		{"GPU1 x4", func() *world { return d(aws(), R{"GPU": 1}, 4) }, want{launch: map[string]int{"p2.xlarge": 4}}},
		{"CPU32 GPU1 x3", func() *world { return d(aws(), R{"CPU": 32, "GPU": 1}, 3) }, want{launch: map[string]int{"p2.8xlarge": 3}}},
		{"CPU64 GPU1 x3", func() *world { return d(aws(), R{"CPU": 64, "GPU": 1}, 3) }, want{infeasible: 3}},
		{"CPU64 x3", func() *world { return d(aws(), R{"CPU": 64}, 3) }, want{launch: map[string]int{"m4.16xlarge": 3}}},
		{"CPU64 + CPU1", func() *world { return d(d(aws(), R{"CPU": 64}, 1), R{"CPU": 1}, 1) },
			want{launch: map[string]int{"m4.16xlarge": 1, "m4.large": 1}}},
		{"CPU64 + CPU9 x2", func() *world { return d(d(aws(), R{"CPU": 64}, 1), R{"CPU": 9}, 2) },
			want{launch: map[string]int{"m4.16xlarge": 1, "m4.4xlarge": 2}}},
		{"CPU16 x5", func() *world { return d(aws(), R{"CPU": 16}, 5) }, want{launch: map[string]int{"m4.16xlarge": 1, "m4.4xlarge": 1}}},
		{"CPU8 x10", func() *world { return d(aws(), R{"CPU": 8}, 10) }, want{launch: map[string]int{"m4.16xlarge": 1, "m4.4xlarge": 1}}},
		{"CPU1 x100", func() *world { return d(aws(), R{"CPU": 1}, 100) },
			want{launch: map[string]int{"m4.16xlarge": 1, "m4.4xlarge": 2, "m4.large": 2}}},
		{"GPU1 + CPU1 x64", func() *world { return d(d(aws(), R{"GPU": 1}, 1), R{"CPU": 1}, 64) },
			want{launch: map[string]int{"m4.16xlarge": 1, "p2.xlarge": 1}}},
		{"GPU1 x8 + CPU1 x64", func() *world { return d(d(aws(), R{"GPU": 1}, 8), R{"CPU": 1}, 64) },
			want{launch: map[string]int{"m4.4xlarge": 2, "p2.8xlarge": 1}}},
		{"GPU1 x8 anti-affinity", func() *world {
			w := aws()
			w.s.Gangs = []Gang{{ID: "af", Strategy: StrictSpread, Bundles: repeat(R{"GPU": 1}, 8)}}
			return w
		}, want{launch: map[string]int{"p2.xlarge": 8}}},
	})

	cpuGPU := func() *world {
		return unlimited(newWorld(grp("cpu", R{"CPU": 16}, 0, 10), grp("gpu", R{"CPU": 16, "GPU": 1}, 0, 10)))
	}
	runScenarios(t, []scenario{
		{"CPU16", func() *world { return d(cpuGPU(), R{"CPU": 16}, 1) }, want{launch: map[string]int{"cpu": 1}}},
		{"CPU1 x30 + GPU1 CPU1", func() *world { return d(d(cpuGPU(), R{"CPU": 1}, 30), R{"GPU": 1, "CPU": 1}, 1) },
			want{launch: map[string]int{"cpu": 1, "gpu": 1}}},
		{"GPU1 CPU1 + CPU1 x15", func() *world { return d(d(cpuGPU(), R{"GPU": 1, "CPU": 1}, 1), R{"CPU": 1}, 15) },
			want{launch: map[string]int{"gpu": 1}}},
	})

	avoid := func(cap int) *world {
		w := unlimited(newWorld(grp("cpu", R{"CPU": 1}, 0, 10), grp("gpu", R{"CPU": 100, "GPU": 1}, 0, 10)))
		w.c.MaxWorkers = cap
		return w
	}
	runScenarios(t, []scenario{
		{"GPU avoided, cap 10", func() *world { return d(avoid(10), R{"CPU": 1}, 100) }, want{launch: map[string]int{"cpu": 10}, infeasible: 90}},
		{"GPU last, cap 11", func() *world { return d(avoid(11), R{"CPU": 1}, 100) }, want{launch: map[string]int{"cpu": 10, "gpu": 1}}},
		{"GPU work brings the GPU node", func() *world { return d(d(avoid(100), R{"CPU": 1}, 100), R{"GPU": 1}, 1) },
			want{launch: map[string]int{"gpu": 1}}},
		{"GPU1 x4 + CPU1 x404", func() *world { return d(d(avoid(100), R{"GPU": 1}, 4), R{"CPU": 1}, 404) },
			want{launch: map[string]int{"gpu": 4, "cpu": 4}}},
	})

	large := func(cap int) *world {
		w := unlimited(newWorld(grp("m4.large", R{"CPU": 2}, 0, 10)))
		w.c.MaxWorkers = cap
		return w
	}
	runScenarios(t, []scenario{
		{"cap 2", func() *world { return d(large(2), R{"CPU": 1}, 10) }, want{launch: map[string]int{"m4.large": 2}, infeasible: 6}},
		{"cap 10 with 10 existing", func() *world {
			w := d(large(10), R{"CPU": 1}, 10)
			for i := range 10 {
				w.running(podName("m", i), "m4.large", R{"CPU": 2}, 0)
			}
			return w
		}, want{}},
		{"cap 10", func() *world { return d(large(10), R{"CPU": 1}, 10) }, want{launch: map[string]int{"m4.large": 5}}},
		{"no cap", func() *world { return d(large(0), R{"CPU": 1}, 40) }, want{launch: map[string]int{"m4.large": 10}, infeasible: 20}},
	})

	mins := func() *world {
		return unlimited(newWorld(
			grp("m2.large", R{"CPU": 1}, 5, 10), grp("m4.large", R{"CPU": 2}, 0, 10),
			grp("gpu", R{"GPU": 2}, 2, 2), grp("gpubla", R{"GPU": 1}, 0, 0)))
	}
	runScenarios(t, []scenario{
		// Ray: m2.large:5, m4.large:5, gpu:2.
		{"min workers with CPU2 x5", func() *world { return d(mins(), R{"CPU": 2}, 5) },
			want{launch: map[string]int{"m4.large": 5}, replicas: map[string]int{"m2.large": 5, "m4.large": 5, "gpu": 2}}},
		// Ray: m2.large:4, m4.large:4, gpu:2.
		{"min workers with existing nodes", func() *world {
			return d(mins(), R{"CPU": 2}, 5).running("m2-0", "m2.large", R{"CPU": 1}, 0).running("m4-0", "m4.large", R{"CPU": 2}, 0)
		}, want{launch: map[string]int{"m4.large": 4}, replicas: map[string]int{"m2.large": 5, "m4.large": 5, "gpu": 2}}},
		// Ray: m2.large:5, gpu:2.
		{"min workers absorb GPU work", func() *world { return d(mins(), R{"GPU": 1}, 5) },
			want{infeasible: 1, replicas: map[string]int{"m2.large": 5, "gpu": 2}}},
	})

	p2 := func() *world {
		return unlimited(newWorld(grp("p2.8xlarge", R{"CPU": 32, "GPU": 8}, 2, 4), grp("p2.xlarge", R{"CPU": 16, "GPU": 1}, 0, 10)))
	}
	existing := func(w *world, n int) *world {
		for i := range n {
			w.running(podName("p", i), "p2.8xlarge", R{"CPU": 32, "GPU": 8}, 0)
		}
		return w
	}
	runScenarios(t, []scenario{
		// Ray: p2.8xlarge:2 (min workers) in the first two cases, 4 in the next two.
		{"min GPU8", func() *world { return d(p2(), R{"GPU": 8}, 1) }, want{replicas: map[string]int{"p2.8xlarge": 2}}},
		{"min GPU8 x2", func() *world { return d(p2(), R{"GPU": 8}, 2) }, want{replicas: map[string]int{"p2.8xlarge": 2}}},
		{"min GPU8 x4", func() *world { return d(p2(), R{"GPU": 8}, 4) },
			want{launch: map[string]int{"p2.8xlarge": 2}, replicas: map[string]int{"p2.8xlarge": 4}}},
		{"min GPU8 x8", func() *world { return d(p2(), R{"GPU": 8}, 8) },
			want{launch: map[string]int{"p2.8xlarge": 2}, infeasible: 4, replicas: map[string]int{"p2.8xlarge": 4}}},
		// Ray: p2.xlarge:1, p2.8xlarge:2 (one for min workers).
		{"GPU8 x3 + GPU1, 1 existing", func() *world { return d(d(existing(p2(), 1), R{"GPU": 8}, 3), R{"GPU": 1}, 1) },
			want{launch: map[string]int{"p2.xlarge": 1, "p2.8xlarge": 1}, replicas: map[string]int{"p2.8xlarge": 3}}},
		{"GPU8 x3 + GPU1, 2 existing", func() *world { return d(d(existing(p2(), 2), R{"GPU": 8}, 3), R{"GPU": 1}, 1) },
			want{launch: map[string]int{"p2.xlarge": 1, "p2.8xlarge": 1}}},
		{"GPU8 x3 + GPU1, 3 existing", func() *world { return d(d(existing(p2(), 3), R{"GPU": 8}, 3), R{"GPU": 1}, 1) },
			want{launch: map[string]int{"p2.xlarge": 1}}},
		{"GPU8 x5 + GPU1, 3 existing", func() *world { return d(d(existing(p2(), 3), R{"GPU": 8}, 5), R{"GPU": 1}, 1) },
			want{launch: map[string]int{"p2.xlarge": 1, "p2.8xlarge": 1}, infeasible: 1}},
	})
}

func repeat(r R, n int) []Request {
	out := make([]Request, n)
	for i := range out {
		out[i] = Request{Resources: r}
	}
	return out
}
