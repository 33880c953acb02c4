package engine

import (
	"strings"
	"testing"
	"time"
)

// Table cases for each rule of the engine beyond Ray's own scenarios.

func oneGroup(minR, maxR int) *world {
	return newWorld(grp("cpu", R{"CPU": 2}, minR, maxR))
}

func TestIdleTermination(t *testing.T) {
	idle := func(idleFor, clusterTimeout time.Duration, groupTimeout *time.Duration) *world {
		w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, idleFor)
		w.c.IdleTimeout = clusterTimeout
		w.group("cpu").IdleTimeout = groupTimeout
		return w
	}
	runScenarios(t, []scenario{
		{"idle equal to the timeout keeps the node", func() *world { return idle(time.Minute, time.Minute, nil) },
			want{replicas: map[string]int{"cpu": 1}}},
		{"idle 1ms over the timeout terminates it", func() *world { return idle(time.Minute+time.Millisecond, time.Minute, nil) },
			want{terminate: []string{"a:IDLE"}, replicas: map[string]int{"cpu": 0}}},
		{"a shorter group timeout beats the cluster's", func() *world { return idle(30*time.Second, time.Hour, dur(10*time.Second)) },
			want{terminate: []string{"a:IDLE"}}},
		{"a longer group timeout beats the cluster's", func() *world { return idle(30*time.Second, 10*time.Second, dur(time.Hour)) },
			want{}},
		{"a zero group timeout terminates any idle node", func() *world { return idle(time.Millisecond, time.Hour, dur(0)) },
			want{terminate: []string{"a:IDLE"}}},
		{"a zero timeout never touches a busy node", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 1}, 0)
			w.c.IdleTimeout = 0
			return w
		}, want{}},
		{"a negative timeout counts as zero", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 1}, 0).running("b", "cpu", R{"CPU": 2}, time.Millisecond)
			w.c.IdleTimeout = -time.Hour
			return w
		}, want{terminate: []string{"b:IDLE"}}},
		{"min workers are kept, the first idle ones in order go", func() *world {
			w := oneGroup(1, 5).running("a", "cpu", R{"CPU": 2}, 2*time.Minute).running("b", "cpu", R{"CPU": 2}, 3*time.Minute).running("c", "cpu", R{"CPU": 2}, 4*time.Minute)
			return w
		}, want{terminate: []string{"a:IDLE", "b:IDLE"}, replicas: map[string]int{"cpu": 1}}},
		{"a pending pod counts towards min workers", func() *world {
			return oneGroup(1, 5).running("a", "cpu", R{"CPU": 2}, 2*time.Minute).pending("b", "cpu")
		}, want{terminate: []string{"a:IDLE"}, replicas: map[string]int{"cpu": 1}}},
		{"a node that absorbs pending demand is kept", func() *world {
			return idle(2*time.Minute, time.Minute, nil).demand(R{"CPU": 1}, 1)
		}, want{}},
		{"a node that absorbs a placement group is kept", func() *world {
			return idle(2*time.Minute, time.Minute, nil).gang("pg", Pack, R{"CPU": 1})
		}, want{}},
		{"a node that holds a request_resources bundle is kept", func() *world {
			return idle(2*time.Minute, time.Minute, nil).constraint(R{"CPU": 2})
		}, want{}},
		{"demand that does not fit does not keep it", func() *world {
			return idle(2*time.Minute, time.Minute, nil).demand(R{"GPU": 1}, 1)
		}, want{terminate: []string{"a:IDLE"}, infeasible: 1}},
		{"the head is never idle-terminated", func() *world {
			return oneGroup(0, 5).head(R{"CPU": 4}, R{"CPU": 4}, time.Hour)
		}, want{}},
		{"a pod without Ray is never idle-terminated", func() *world {
			w := oneGroup(0, 5).pending("a", "cpu")
			w.c.IdleTimeout = 0
			return w
		}, want{}},
	})
}

func TestPendingCapacity(t *testing.T) {
	runScenarios(t, []scenario{
		{"a pending pod absorbs demand and is not launched again", func() *world {
			return oneGroup(0, 5).pending("a", "cpu").demand(R{"CPU": 2}, 1)
		}, want{replicas: map[string]int{"cpu": 1}}},
		{"requested replicas absorb demand", func() *world {
			w := oneGroup(0, 5).demand(R{"CPU": 2}, 3)
			w.spec["cpu"] = 2
			return w
		}, want{launch: map[string]int{"cpu": 1}, replicas: map[string]int{"cpu": 3}}},
		{"the operator's view of replicas: clamped to min", func() *world {
			w := oneGroup(2, 5).demand(R{"CPU": 2}, 3)
			w.spec["cpu"] = 0
			return w
		}, want{launch: map[string]int{"cpu": 1}, replicas: map[string]int{"cpu": 3}}},
		{"pods above spec replicas are kept in replicas", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 0}, 0).running("b", "cpu", R{"CPU": 0}, 0)
			w.spec["cpu"] = 1
			return w
		}, want{replicas: map[string]int{"cpu": 2}}},
	})
}

func TestMaxima(t *testing.T) {
	runScenarios(t, []scenario{
		{"per-type max caps launches", func() *world {
			return oneGroup(0, 2).running("a", "cpu", R{"CPU": 0}, 0).demand(R{"CPU": 2}, 5)
		}, want{launch: map[string]int{"cpu": 1}, infeasible: 4, replicas: map[string]int{"cpu": 2}}},
		{"the cluster cap spans groups", func() *world {
			w := newWorld(grp("a", R{"CPU": 1}, 0, 10), grp("b", R{"GPU": 1}, 0, 10)).
				running("a-1", "a", R{"CPU": 0}, 0).demand(R{"CPU": 1}, 3).demand(R{"GPU": 1}, 3)
			w.c.MaxWorkers = 3
			return w
		}, want{launch: map[string]int{"a": 1, "b": 1}, infeasible: 4}},
		{"the head does not count against the worker cap", func() *world {
			w := oneGroup(0, 10).head(R{"CPU": 0}, R{"CPU": 0}, 0).demand(R{"CPU": 2}, 2)
			w.c.MaxWorkers = 2
			return w
		}, want{launch: map[string]int{"cpu": 2}}},
		{"a draining pod keeps its slot against max", func() *world {
			w := oneGroup(0, 2).running("a", "cpu", R{"CPU": 0}, 0).running("b", "cpu", R{"CPU": 2}, 0).demand(R{"CPU": 2}, 2)
			w.s.Nodes[1].Status = NodeDraining
			return w
		}, want{infeasible: 2, replicas: map[string]int{"cpu": 2}}},
		{"lowering maxReplicas removes pods without Ray first, then the least used", func() *world {
			w := oneGroup(0, 1).running("busy", "cpu", R{"CPU": 0}, 0).running("light", "cpu", R{"CPU": 1}, 0).pending("new", "cpu")
			return w
		}, want{terminate: []string{"new:MAX_NUM_NODE_PER_TYPE", "light:MAX_NUM_NODE_PER_TYPE"}, replicas: map[string]int{"cpu": 1}}},
		{"a cap below the requested replicas drops them without a termination", func() *world {
			w := oneGroup(0, 10).running("a", "cpu", R{"CPU": 0}, 0)
			w.spec["cpu"] = 4
			w.c.MaxWorkers = 2
			return w
		}, want{replicas: map[string]int{"cpu": 2}}},
		{"minReplicas above maxReplicas: max wins", func() *world {
			return oneGroup(3, 1).running("a", "cpu", R{"CPU": 0}, 0)
		}, want{replicas: map[string]int{"cpu": 1}}},
	})
}

func TestConstraintsUseTotals(t *testing.T) {
	runScenarios(t, []scenario{
		{"busy nodes satisfy request_resources", func() *world {
			return oneGroup(0, 5).running("a", "cpu", R{"CPU": 0}, 0).running("b", "cpu", R{"CPU": 0}, 0).constraint(R{"CPU": 2}, R{"CPU": 2})
		}, want{}},
		{"but not pending demand", func() *world {
			return oneGroup(0, 5).running("a", "cpu", R{"CPU": 0}, 0).demand(R{"CPU": 2}, 1)
		}, want{launch: map[string]int{"cpu": 1}}},
		{"a constraint grows the cluster to its shape", func() *world {
			return oneGroup(0, 5).constraint(R{"CPU": 1}, R{"CPU": 1}, R{"CPU": 1})
		}, want{launch: map[string]int{"cpu": 2}}},
		{"constraint and demand are packed separately", func() *world {
			return oneGroup(0, 5).constraint(R{"CPU": 2}).demand(R{"CPU": 2}, 1)
		}, want{launch: map[string]int{"cpu": 1}}},
	})
}

func TestGangs(t *testing.T) {
	runScenarios(t, []scenario{
		{"PACK is all or nothing", func() *world {
			return oneGroup(0, 1).gang("pg", Pack, R{"CPU": 2}, R{"CPU": 2})
		}, want{gangs: 1}},
		{"SPREAD is all or nothing", func() *world {
			return oneGroup(0, 2).gang("pg", Spread, R{"CPU": 2}, R{"CPU": 2}, R{"CPU": 2})
		}, want{gangs: 1}},
		{"PACK places bundles independently", func() *world {
			return oneGroup(0, 2).gang("pg", Pack, R{"CPU": 2}, R{"CPU": 2})
		}, want{launch: map[string]int{"cpu": 2}}},
		{"STRICT_SPREAD avoids a node that holds one of its bundles", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, 0).gang("abc", StrictSpread, R{"CPU": 1})
			w.s.Nodes[0].Labels = map[string]string{"_PG_abc": ""}
			return w
		}, want{launch: map[string]int{"cpu": 1}}},
		{"STRICT_SPREAD uses a node of another group", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, 0).gang("abc", StrictSpread, R{"CPU": 1})
			w.s.Nodes[0].Labels = map[string]string{"_PG_other": ""}
			return w
		}, want{}},
		{"STRICT_SPREAD without an id still spreads", func() *world {
			return oneGroup(0, 5).gang("", StrictSpread, R{"CPU": 1}, R{"CPU": 1}, R{"CPU": 1})
		}, want{launch: map[string]int{"cpu": 3}}},
		{"an infeasible gang leaves no trace", func() *world {
			return oneGroup(0, 5).gang("big", StrictPack, R{"CPU": 2}, R{"CPU": 2}).gang("ok", Pack, R{"CPU": 1})
		}, want{launch: map[string]int{"cpu": 1}, gangs: 1}},
		{"strict gangs are placed before others", func() *world {
			// One node of room: the STRICT_PACK gang (listed second) wins it.
			return oneGroup(0, 1).gang("loose", Pack, R{"CPU": 2}).gang("strict", StrictPack, R{"CPU": 1}, R{"CPU": 1})
		}, want{launch: map[string]int{"cpu": 1}, gangs: 1}},
		{"an empty gang is skipped", func() *world {
			w := oneGroup(0, 5)
			w.s.Gangs = []Gang{{ID: "empty", Strategy: StrictPack}}
			return w
		}, want{}},
	})
}

func TestGPUAvoidanceOnExistingNodes(t *testing.T) {
	two := func() *world {
		return newWorld(grp("cpu", R{"CPU": 4}, 0, 5), grp("gpu", R{"CPU": 4, "GPU": 1}, 0, 5))
	}
	runScenarios(t, []scenario{
		{"CPU work goes to the CPU node", func() *world {
			w := two().running("g", "gpu", R{"CPU": 4, "GPU": 1}, 0).running("c", "cpu", R{"CPU": 4}, 0).demand(R{"CPU": 4}, 1)
			w.c.IdleTimeout = time.Hour
			return w
		}, want{}},
		{"CPU work uses a GPU node when nothing else can take it", func() *world {
			return two().running("g", "gpu", R{"CPU": 4, "GPU": 1}, 0).running("c", "cpu", R{"CPU": 0}, 0).demand(R{"CPU": 4}, 1)
		}, want{}},
		{"new CPU work launches a CPU node rather than a GPU node", func() *world {
			return two().demand(R{"CPU": 1}, 1)
		}, want{launch: map[string]int{"cpu": 1}}},
	})
	// Which node took it: the idle GPU node must be the one terminated.
	w := two().running("g", "gpu", R{"CPU": 4, "GPU": 1}, time.Hour).running("c", "cpu", R{"CPU": 4}, time.Hour).demand(R{"CPU": 4}, 1)
	check(t, w.decide(), want{terminate: []string{"g:IDLE"}})
}

func TestRateLimit(t *testing.T) {
	runScenarios(t, []scenario{
		{"Conservative with nothing running launches one", func() *world {
			w := oneGroup(0, 100).demand(R{"CPU": 2}, 50)
			w.c.UpscalingSpeed = UpscalingSpeedFor("Conservative")
			return w
		}, want{launch: map[string]int{"cpu": 1}}},
		{"Conservative launches as many as are running", func() *world {
			w := oneGroup(0, 100).demand(R{"CPU": 2}, 50)
			for i := range 3 {
				w.running(podName("r", i), "cpu", R{"CPU": 0}, 0)
			}
			w.c.UpscalingSpeed = UpscalingSpeedFor("Conservative")
			return w
		}, want{launch: map[string]int{"cpu": 3}}},
		{"Default is bounded by max concurrent launches", func() *world {
			return oneGroup(0, 100).demand(R{"CPU": 2}, 50)
		}, want{launch: map[string]int{"cpu": 10}, replicas: map[string]int{"cpu": 10}}},
		{"requested replicas use up the budget", func() *world {
			w := oneGroup(0, 100).demand(R{"CPU": 2}, 50)
			w.spec["cpu"] = 7
			return w
		}, want{launch: map[string]int{"cpu": 3}, replicas: map[string]int{"cpu": 10}}},
		{"the budget is shared in group order", func() *world {
			return newWorld(grp("a", R{"CPU": 1}, 0, 100), grp("b", R{"GPU": 1}, 0, 100)).demand(R{"CPU": 1}, 8).demand(R{"GPU": 1}, 8)
		}, want{launch: map[string]int{"a": 8, "b": 2}}},
		{"a custom max concurrent", func() *world {
			w := oneGroup(0, 100).demand(R{"CPU": 2}, 50)
			w.c.MaxConcurrentLaunches = 40
			return w
		}, want{launch: map[string]int{"cpu": 40}}},
	})
	p := oneGroup(0, 100).demand(R{"CPU": 2}, 50).decide()
	if !strings.Contains(p.Decisions[0].Reason, "launching 10 of 50 now (upscaling rate limit)") {
		t.Errorf("decision %q does not mention the rate limit", p.Decisions[0])
	}
}

func TestRayNodeLifecycle(t *testing.T) {
	runScenarios(t, []scenario{
		{"a draining node is no capacity and is left alone", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, time.Hour).demand(R{"CPU": 2}, 1)
			w.s.Nodes[0].Status = NodeDraining
			return w
		}, want{launch: map[string]int{"cpu": 1}, replicas: map[string]int{"cpu": 2}}},
		{"a dead node's pod is removed without a drain", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, 0)
			w.s.Nodes[0].Status = NodeDead
			return w
		}, want{terminate: []string{"a:RAY_STOPPED"}, replicas: map[string]int{"cpu": 0}}},
		{"a restarted Ray: the live node wins over the dead one", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 0}, 0)
			w.s.Nodes = append(w.s.Nodes, Node{ID: "dead-0", InstanceID: "a", Status: NodeDead})
			return w
		}, want{replicas: map[string]int{"cpu": 1}}},
		{"a node found by IP when it has no instance id", func() *world {
			w := oneGroup(0, 5).running("a", "cpu", R{"CPU": 2}, 0).demand(R{"CPU": 2}, 1)
			w.pods[0].IP, w.s.Nodes[0].IP, w.s.Nodes[0].InstanceID = "10.0.0.7", "10.0.0.7", ""
			return w
		}, want{}},
		{"a Ray node without a pod is ignored", func() *world {
			w := oneGroup(0, 5).demand(R{"CPU": 2}, 1)
			w.s.Nodes = append(w.s.Nodes, Node{ID: "ghost", InstanceID: "gone", Type: "cpu", Status: NodeIdle, Total: R{"CPU": 2}, Available: R{"CPU": 2}, Idle: time.Hour})
			return w
		}, want{launch: map[string]int{"cpu": 1}}},
		{"a pod that never starts Ray is replaced after the allocate timeout", func() *world {
			w := oneGroup(1, 5).pending("stuck", "cpu")
			w.pods[0].Created = t0.Add(-301 * time.Second)
			return w
		}, want{terminate: []string{"stuck:ALLOCATION_TIMEOUT"}, launch: map[string]int{"cpu": 1}, replicas: map[string]int{"cpu": 1}}},
		{"not before", func() *world {
			w := oneGroup(1, 5).pending("stuck", "cpu")
			w.pods[0].Created = t0.Add(-300 * time.Second)
			return w
		}, want{replicas: map[string]int{"cpu": 1}}},
		{"a disabled allocate timeout", func() *world {
			w := oneGroup(1, 5).pending("stuck", "cpu")
			w.pods[0].Created = t0.Add(-time.Hour)
			w.c.AllocateTimeout = -1
			return w
		}, want{}},
	})
}

func TestOnlyThisClustersWorkerPods(t *testing.T) {
	w := oneGroup(0, 5).running("mine", "cpu", R{"CPU": 2}, time.Hour)
	// Pods of other groups (the head, a removed group, another cluster's
	// group name) with idle Ray nodes.
	for _, p := range []struct{ name, group string }{{"head-pod", HeadGroupName}, {"x", "removed"}, {"y", ""}} {
		w.pods = append(w.pods, Pod{Name: p.name, Group: p.group, Running: true})
		w.s.Nodes = append(w.s.Nodes, Node{ID: "n-" + p.name, InstanceID: p.name, Type: p.group, Status: NodeIdle,
			Total: R{"CPU": 2}, Available: R{"CPU": 2}, Idle: time.Hour})
	}
	// Pods of the group that are already going away.
	w.running("deleting", "cpu", R{"CPU": 2}, time.Hour).running("listed", "cpu", R{"CPU": 2}, time.Hour)
	w.pods[len(w.pods)-2].Deleting = true
	w.pods[len(w.pods)-1].ListedForDeletion = true
	w.spec["cpu"] = 1
	check(t, w.decide(), want{terminate: []string{"mine:IDLE"}, replicas: map[string]int{"cpu": 0}})
}

func TestMultiHost(t *testing.T) {
	w := func() *world {
		w := newWorld(Group{Name: "tpu", Resources: R{"TPU": 4}, MinReplicas: 0, MaxReplicas: 3, NumOfHosts: 4})
		return w
	}
	runScenarios(t, []scenario{
		{"one host of demand launches a whole replica", func() *world { return w().demand(R{"TPU": 4}, 1) },
			want{launch: map[string]int{"tpu": 4}, replicas: map[string]int{"tpu": 1}}},
		{"a requested replica brings all its hosts", func() *world {
			w := w().demand(R{"TPU": 4}, 4)
			w.spec["tpu"] = 1
			return w
		}, want{replicas: map[string]int{"tpu": 1}}},
		{"max workers is maxReplicas x numOfHosts", func() *world { return w().demand(R{"TPU": 4}, 20) },
			want{launch: map[string]int{"tpu": 12}, infeasible: 8, replicas: map[string]int{"tpu": 3}}},
	})
}

func TestInfeasibleDetail(t *testing.T) {
	w := oneGroup(0, 5).demand(R{"CPU": 1}, 2).demand(R{"CPU": 64}, 3).gang("pg", StrictPack, R{"CPU": 2}, R{"CPU": 2}).constraint(R{"GPU": 1})
	p := w.decide()
	inf := p.Infeasible
	if len(inf.Requests) != 1 || inf.Requests[0].Count != 3 || inf.Requests[0].Resources["CPU"] != 64 {
		t.Errorf("requests %+v", inf.Requests)
	}
	if len(inf.Gangs) != 1 || inf.Gangs[0].ID != "pg" || len(inf.Constraints) != 1 || inf.Empty() {
		t.Errorf("gangs %+v constraints %+v", inf.Gangs, inf.Constraints)
	}
	if got, want := p.Decisions[0].String(), "cpu 0→1: 2 pending requests {CPU: 1}"; got != want {
		t.Errorf("decision %q, want %q", got, want)
	}
}

func TestHugeDemandIsBounded(t *testing.T) {
	w := newWorld(grp("cpu", R{"CPU": 1}, 0, 1<<30)).demand(R{"CPU": 1}, 1<<40)
	start := time.Now()
	p := w.decide()
	if p.Launch["cpu"] != DefaultMaxConcurrentLaunches || !p.Infeasible.Empty() {
		t.Errorf("launch %v infeasible %+v", p.Launch, p.Infeasible)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
}
