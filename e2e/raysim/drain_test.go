package raysim

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// drainCluster is a head and two 2-CPU workers whose first load report is
// in, at a fake clock.
func drainCluster(t *testing.T) (*Sim, *clock, *cluster) {
	t.Helper()
	clk := &clock{t: time.Unix(1000, 0)}
	s := New(clk.now)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("head-0", "headgroup", "head", "2"), pod("w-1", "g", "worker", "2"), pod("w-2", "g", "worker", "2")})
	clk.add(time.Second)
	return s, clk, s.cluster("ns", "c")
}

// A PREEMPTION drain is accepted whatever runs on the node; the node is
// DRAINING (taking no new work) until it is idle, then DEAD; its actors are
// marked preempted.
func TestPreemptionDrainsUntilIdle(t *testing.T) {
	s, clk, c := drainCluster(t)
	if err := c.addItem(actor("a1", 2), clk.t); err != nil {
		t.Fatal(err)
	}
	w1 := nodeID("uid-w-1")
	if reply, err := drain(t, s, "ns", "c", preemptDrain(w1, time.Time{})); err != nil || !reply.IsAccepted {
		t.Fatalf("preemption of a busy node: %v %v, want accepted", reply, err)
	}
	clk.add(10 * time.Second)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DRAINING {
		t.Fatalf("busy drained node: %v, want DRAINING", got)
	}
	if a := c.actorViews()[0]; !a.Preempted || a.Node != "w-1" {
		t.Fatalf("actor on the drained node: %+v, want preempted and still running there", a)
	}
	// New work avoids the draining node.
	if err := c.addItem(actor("a2", 2), clk.t); err != nil {
		t.Fatal(err)
	}
	if a := c.actorViews()[1]; a.Node != "w-2" {
		t.Fatalf("new actor placed on %q, want w-2 (w-1 drains)", a.Node)
	}
	c.removeItem(kindActor, "a1", clk.t)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Fatalf("drained node gone idle after the window: %v, want DEAD", got)
	}
	if views := c.nodeViews(clk.t); views[len(views)-1].DeathReason != diedDrainedPreempted {
		t.Errorf("death reason %q", views[len(views)-1].DeathReason)
	}
}

// With a deadline the node dies at the deadline at the latest, and what ran
// there is rescheduled.
func TestDrainDeadlineKillsTheNode(t *testing.T) {
	s, clk, c := drainCluster(t)
	_ = c.addItem(actor("a1", 2), clk.t)
	if reply, err := drain(t, s, "ns", "c", preemptDrain(nodeID("uid-w-1"), clk.t.Add(30*time.Second))); err != nil || !reply.IsAccepted {
		t.Fatalf("%v %v", reply, err)
	}
	clk.add(29 * time.Second)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DRAINING {
		t.Fatalf("before the deadline: %v", got)
	}
	clk.add(time.Second)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Fatalf("at the deadline: %v, want DEAD", got)
	}
	if a := c.actorViews()[0]; a.Node != "w-2" || a.Retries != 1 || !a.Preempted {
		t.Errorf("actor of the killed node: %+v, want restarted on w-2", a)
	}
}

// An idle node accepted for IDLE_TERMINATION is DRAINING for the drain
// window, then DEAD; a window of 0 makes it DEAD at once.
func TestIdleDrainWindow(t *testing.T) {
	s, clk, c := drainCluster(t)
	c.mu.Lock()
	c.settings.DrainWindow = 3 * time.Second
	c.mu.Unlock()
	if reply, err := drain(t, s, "ns", "c", idleDrain(nodeID("uid-w-1"))); err != nil || !reply.IsAccepted {
		t.Fatalf("%v %v", reply, err)
	}
	clk.add(2 * time.Second)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DRAINING {
		t.Fatalf("inside the window: %v", got)
	}
	// A retried drain does not extend the window.
	if reply, err := drain(t, s, "ns", "c", idleDrain(nodeID("uid-w-1"))); err != nil || !reply.IsAccepted {
		t.Fatalf("retried idle drain of a draining idle node: %v %v", reply, err)
	}
	clk.add(time.Second)
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Fatalf("after the window: %v", got)
	}
	c.mu.Lock()
	c.settings.DrainWindow = 0
	c.mu.Unlock()
	if reply, _ := drain(t, s, "ns", "c", idleDrain(nodeID("uid-w-2"))); !reply.IsAccepted || statusOf(s, "ns", "c", "w-2") != rpcpb.NodeStatus_DEAD {
		t.Fatalf("window 0: %v, status %v", reply, statusOf(s, "ns", "c", "w-2"))
	}
}

// Ray's answers to the other requests: unknown and dead nodes are accepted;
// a negative deadline is Invalid, which reaches a gRPC client as ABORTED
// "Invalid"; an UNSPECIFIED reason aborts the raylet (RAY_CHECK_EQ), the
// call fails ABORTED "RpcError" and the node dies.
func TestDrainNodeEdgeCases(t *testing.T) {
	s, _, c := drainCluster(t)
	as, _ := clients(t, s, "ns", "c")
	ctx := context.Background()
	if reply, err := as.DrainNode(ctx, idleDrain(nodeID("nobody"))); err != nil || !reply.IsAccepted {
		t.Errorf("unknown node: %v %v, want accepted", reply, err)
	}
	req := idleDrain(nodeID("uid-w-1"))
	req.DeadlineTimestampMs = -1
	_, err := as.DrainNode(ctx, req)
	if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "Invalid" {
		t.Errorf("negative deadline: %v, want ABORTED Invalid", err)
	}
	_ = c.addItem(actor("a1", 2), s.now())
	_, err = as.DrainNode(ctx, &rpcpb.DrainNodeRequest{NodeId: nodeID("uid-w-1")})
	if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "RpcError" {
		t.Errorf("UNSPECIFIED reason: %v, want ABORTED RpcError", err)
	}
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Errorf("node whose raylet aborted: %v, want DEAD", got)
	}
	if reply, err := as.DrainNode(ctx, idleDrain(nodeID("uid-w-1"))); err != nil || !reply.IsAccepted {
		t.Errorf("dead node: %v %v, want accepted", reply, err)
	}
	calls := c.drainRecord()
	want := []struct{ known, result, code string }{
		{"unknown", drainAccepted, "OK"}, {"alive", drainFailed, "Aborted"}, {"alive", drainFailed, "Aborted"}, {"dead", drainAccepted, "OK"},
	}
	if len(calls) != len(want) {
		t.Fatalf("drain record %+v", calls)
	}
	for i, w := range want {
		if calls[i].NodeKnown != w.known || calls[i].Result != w.result || calls[i].Code != w.code {
			t.Errorf("drain record %d = %+v, want %+v", i, calls[i], w)
		}
	}
	if calls[1].Message != "Invalid: Draining deadline must be non-negative, received -1" || calls[1].DeadlineTimestampMs != -1 {
		t.Errorf("negative deadline recorded as %+v", calls[1])
	}
}

// drainRecord returns a copy of the drain record.
func (c *cluster) drainRecord() []drainCall {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]drainCall(nil), c.drainCalls...)
}

// Dead nodes carry only their id, instance id, type, IP, instance type,
// version and status.
func TestDeadNodeFields(t *testing.T) {
	s, clk, c := drainCluster(t)
	c.mu.Lock()
	c.settings.DrainWindow = 0
	c.mu.Unlock()
	_, _ = drain(t, s, "ns", "c", idleDrain(nodeID("uid-w-1")))
	n := nodeByPod(c.snapshot(clk.t), "w-1")
	if n.Status != rpcpb.NodeStatus_DEAD || n.InstanceId != "w-1" || n.RayNodeTypeName != "g" || n.NodeIpAddress != "10.0.0.1" || len(n.NodeId) != 28 {
		t.Fatalf("dead node %+v", n)
	}
	if n.TotalResources != nil || n.AvailableResources != nil || n.Labels != nil || n.DynamicLabels != nil || n.IdleDurationMs != 0 || n.NodeActivity != nil {
		t.Errorf("dead node carries more than Ray's GCS reports: %+v", n)
	}
}

// A new head pod is a new GCS: it forgets the dead nodes and its counter.
func TestNewHeadForgetsDeadNodes(t *testing.T) {
	s, clk, c := drainCluster(t)
	s.SyncPods("ns", "c", []*corev1.Pod{pod("head-0", "headgroup", "head", "2"), pod("w-2", "g", "worker", "2")})
	c.mu.Lock()
	c.stateVersion = 7
	c.mu.Unlock()
	if got := statusOf(s, "ns", "c", "w-1"); got != rpcpb.NodeStatus_DEAD {
		t.Fatalf("gone worker: %v, want DEAD", got)
	}
	newHead := pod("head-1", "headgroup", "head", "2")
	s.SyncPods("ns", "c", []*corev1.Pod{newHead, pod("w-2", "g", "worker", "2")})
	st := c.snapshot(clk.t)
	if len(st.NodeStates) != 2 || nodeByPod(st, "w-1") != nil || nodeByPod(st, "head-0") != nil || st.ClusterResourceStateVersion != 0 {
		t.Errorf("after a new head: %v", st)
	}
}
