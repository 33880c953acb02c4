package raysim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

func pod(name, group, nodeType, cpus string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID("uid-" + name),
			Labels: map[string]string{"ray.io/cluster": "c", "ray.io/group": group, "ray.io/node-type": nodeType}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ray",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpus), corev1.ResourceMemory: resource.MustParse("4Gi")}},
			Env:       []corev1.EnvVar{{Name: "KUBERAY_GEN_RAY_START_CMD", Value: "ray start --block --num-cpus=" + map[bool]string{true: "0", false: cpus}[nodeType == "head"] + " --memory=4294967296"}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0." + name[len(name)-1:]},
	}
}

func nodeByPod(st *rpcpb.ClusterResourceState, name string) *rpcpb.NodeState {
	for _, n := range st.NodeStates {
		if n.InstanceId == name {
			return n
		}
	}
	return nil
}

func actor(name string, cpus float64) *item {
	return &item{kind: kindActor, name: name, bundles: []map[string]float64{{"CPU": cpus}}}
}

func TestActorLifecycleIdleAndDrain(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	head := pod("head-0", "headgroup", "head", "2")
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	c := s.cluster("ns", "c")
	if err := c.addItem(actor("a1", 1), clk.t); err != nil {
		t.Fatal(err)
	}
	st := c.snapshot(clk.t)
	if n := nodeByPod(st, "head-0"); n == nil || n.TotalResources[headResource] != 1 || n.TotalResources["CPU"] != 0 {
		t.Fatalf("head node = %+v (num-cpus 0 from the generated ray start command)", n)
	}
	if len(st.PendingResourceRequests) != 1 || st.PendingResourceRequests[0].Count != 1 || st.PendingResourceRequests[0].Request.ResourcesBundle["CPU"] != 1 {
		t.Fatalf("pending = %v, want one {CPU: 1}", st.PendingResourceRequests)
	}
	worker := pod("w-1", "small-wg", "worker", "2")
	s.SyncPods("ns", "c", []*corev1.Pod{head, worker})
	w := nodeByPod(c.snapshot(clk.t), "w-1")
	// Before its first load report the GCS knows only what the node
	// registered with: all of it available, RUNNING.
	if w.AvailableResources["CPU"] != 2 || w.Status != rpcpb.NodeStatus_RUNNING || w.RayNodeTypeName != "small-wg" {
		t.Fatalf("worker before its first report: %+v", w)
	}
	clk.add(time.Second)
	st = c.snapshot(clk.t)
	if w = nodeByPod(st, "w-1"); len(st.PendingResourceRequests) != 0 || w.AvailableResources["CPU"] != 1 || w.Status != rpcpb.NodeStatus_RUNNING {
		t.Fatalf("after the first report: pending %v, worker %+v", st.PendingResourceRequests, w)
	}
	if reply, err := drain(t, s, "ns", "c", idleDrain(w.NodeId)); err != nil || reply.IsAccepted ||
		reply.RejectionReasonMessage != "The node to be idle terminated is no longer idle." {
		t.Fatalf("idle drain of a node holding an actor: %v %v, want Ray's rejection", reply, err)
	}
	c.removeItem(kindActor, "a1", clk.t)
	clk.add(31 * time.Second)
	w = nodeByPod(c.snapshot(clk.t), "w-1")
	if w.Status != rpcpb.NodeStatus_IDLE || w.IdleDurationMs != 31000 {
		t.Fatalf("idle worker = %v %d ms", w.Status, w.IdleDurationMs)
	}
	if reply, err := drain(t, s, "ns", "c", idleDrain(w.NodeId)); err != nil || !reply.IsAccepted {
		t.Fatalf("idle drain: %v %v", reply, err)
	}
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DRAINING {
		t.Fatalf("accepted drain: status %v, want DRAINING for the drain window", got)
	}
	clk.add(defaultDrainWindow)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Fatalf("after the drain window: status %v, want DEAD", got)
	}
	// The pod goes away: the GCS still remembers the dead node.
	s.SyncPods("ns", "c", []*corev1.Pod{head})
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Errorf("node of a deleted pod: %v, want DEAD (remembered)", got)
	}
}

func TestPlacementGroupsAreAllOrNothing(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2"), pod("w-2", "g", "worker", "2")})
	c := s.cluster("ns", "c")
	for _, tc := range []struct {
		strategy string
		bundles  int
		placed   bool
	}{
		{"STRICT_SPREAD", 3, false}, // only two nodes
		{"STRICT_PACK", 3, false},   // 3 CPUs on a 2-CPU node
		{"SPREAD", 3, true},
	} {
		var b []map[string]float64
		for i := 0; i < tc.bundles; i++ {
			b = append(b, map[string]float64{"CPU": 1})
		}
		_ = c.addItem(&item{kind: kindPG, name: tc.strategy, strategy: tc.strategy, bundles: b}, clk.t)
		it := c.items[len(c.items)-1]
		if it.placed() != tc.placed {
			t.Errorf("%s with %d bundles: placed %v, want %v", tc.strategy, tc.bundles, it.placed(), tc.placed)
		}
	}
	st := c.snapshot(clk.t)
	if len(st.PendingGangResourceRequests) != 2 {
		t.Fatalf("pending gangs = %d, want 2", len(st.PendingGangResourceRequests))
	}
	spread := st.PendingGangResourceRequests[0]
	if spread.Requests[0].PlacementConstraints[0].AntiAffinity == nil {
		t.Errorf("STRICT_SPREAD is not encoded as anti-affinity: %v", spread)
	}
}

func TestTasksFinish(t *testing.T) {
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	c := s.cluster("ns", "c")
	for i := 0; i < 3; i++ {
		_ = c.addItem(&item{kind: kindTask, bundles: []map[string]float64{{"CPU": 1}}, duration: 10 * time.Second}, clk.t)
	}
	if st := c.snapshot(clk.t); len(st.PendingResourceRequests) != 1 || st.PendingResourceRequests[0].Count != 1 {
		t.Fatalf("pending = %v, want one task waiting", st.PendingResourceRequests)
	}
	clk.add(10 * time.Second)
	s.Tick()
	if st := c.snapshot(clk.t); len(st.PendingResourceRequests) != 0 {
		t.Fatalf("the third task was not placed once two finished: %v", st.PendingResourceRequests)
	}
}

func TestGRPCRoutesByAuthority(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "demo", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	as, _ := clients(t, s, "team", "demo")
	reply, err := as.GetClusterResourceState(context.Background(), &rpcpb.GetClusterResourceStateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if n := reply.ClusterResourceState.NodeStates; len(n) != 1 || n[0].InstanceId != "w-1" {
		t.Errorf("nodes = %v", n)
	}
}
