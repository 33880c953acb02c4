package actuator_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// TestApplyDrainFailureIsPerNode: the GCS forwards a raylet's failure as
// ABORTED (or UNKNOWN), and a slow raylet gives DEADLINE_EXCEEDED. The
// failing node keeps its pod and replica; the other drain and the
// scale-up of another group land in the same patch.
func TestApplyDrainFailureIsPerNode(t *testing.T) {
	for _, code := range []codes.Code{codes.Aborted, codes.Unknown, codes.DeadlineExceeded} {
		t.Run(code.String(), func(t *testing.T) {
			ev := &events{}
			k := &fakePatcher{ev: ev}
			d := &fakeDrainer{ev: ev, fail: map[string]error{"0a0a": status.Error(code, "raylet said no")}}
			rc := rayCluster(group("cpu", 3, 0, 5), group("gpu", 1, 0, 5))
			plan := engine.Plan{
				Terminate: []engine.Termination{idle("cpu-a", "0a0a"), idle("cpu-b", "0b0b")},
				Replicas:  map[string]int{"cpu": 1, "gpu": 3},
			}
			res, err := actuator.Apply(context.Background(), k, d, rc, pods("cpu-a", "cpu-b", "cpu-c", "gpu-a"), plan, nil)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if len(res.Failed) != 1 || res.Failed[0].Pod != "cpu-a" || status.Code(res.Failed[0].Err) != code {
				t.Fatalf("Failed = %+v, want cpu-a with %s", res.Failed, code)
			}
			if gcs.IsConnectionError(res.Failed[0].Err) {
				t.Errorf("%s from one node's drain was taken for an unreachable GCS", code)
			}
			if got := podNames(res.Removed); !slices.Equal(got, []string{"cpu-b"}) {
				t.Errorf("Removed = %v, want [cpu-b]", got)
			}
			sent := k.sent()
			if len(sent) != 1 {
				t.Fatalf("sent %d patches, want 1", len(sent))
			}
			sameJSON(t, sent[0].data, `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}},
				{"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/1/replicas", "value": 3}
			]`)
		})
	}
}

// TestApplyUnreachableGCS: when the GCS cannot be reached, the drains not
// yet started fail at once instead of each waiting for its deadline; no
// node is listed, and the rest of the plan is still written.
func TestApplyUnreachableGCS(t *testing.T) {
	ev := &events{}
	k := &fakePatcher{ev: ev}
	d := &fakeDrainer{ev: ev, err: status.Error(codes.Unavailable, "connection refused")}
	const n = 20
	var terms []engine.Termination
	var names []string
	for i := range n {
		name := fmt.Sprintf("cpu-%02d", i)
		names = append(names, name)
		terms = append(terms, idle(name, fmt.Sprintf("%02x", i)))
	}
	rc := rayCluster(group("cpu", n, 0, n), group("gpu", 0, 0, 5))
	plan := engine.Plan{Terminate: terms, Replicas: map[string]int{"cpu": 0, "gpu": 2}}
	res, err := actuator.Apply(context.Background(), k, d, rc, append(pods(names...), pods("gpu-a")...), plan, nil)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(res.Failed) != n || len(res.Removed) != 0 {
		t.Fatalf("Failed %d, Removed %d; want %d failed, none removed", len(res.Failed), len(res.Removed), n)
	}
	for _, f := range res.Failed {
		if !gcs.IsConnectionError(f.Err) {
			t.Errorf("%s: %v is not a connection error", f.Pod, f.Err)
		}
	}
	if calls := len(d.drained()); calls > 8 {
		t.Errorf("%d drain calls to an unreachable GCS; at most the first concurrent batch (8) should be tried", calls)
	}
	sent := k.sent()
	if len(sent) != 1 {
		t.Fatalf("sent %d patches, want 1 (the gpu scale-up)", len(sent))
	}
	sameJSON(t, sent[0].data, `[
		{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
		{"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
		{"op": "replace", "path": "/spec/workerGroupSpecs/1/replicas", "value": 2}
	]`)
}

// TestApplyHeld: a held pod is neither drained nor listed and keeps its
// replica.
func TestApplyHeld(t *testing.T) {
	ev := &events{}
	k := &fakePatcher{ev: ev}
	d := &fakeDrainer{ev: ev}
	rc := rayCluster(group("cpu", 3, 0, 5))
	plan := engine.Plan{Terminate: []engine.Termination{idle("cpu-a", "0a0a"), idle("cpu-b", "0b0b")}, Replicas: map[string]int{"cpu": 1}}
	res, err := actuator.Apply(context.Background(), k, d, rc, pods("cpu-a", "cpu-b", "cpu-c"), plan, func(pod string) bool { return pod == "cpu-a" })
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if calls := d.drained(); len(calls) != 1 || calls[0].node != "0b0b" {
		t.Errorf("drains %v, want only 0b0b", calls)
	}
	if len(res.Held) != 1 || res.Held[0].Pod != "cpu-a" {
		t.Errorf("Held = %v, want cpu-a", res.Held)
	}
	sameJSON(t, k.sent()[0].data, `[
		{"op": "test", "path": "/metadata/resourceVersion", "value": "42"},
		{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
		{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2},
		{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-b"]}}
	]`)
}

// TestNoPreemption: whatever the cause, the scaler stops Ray the way Ray's
// v2 autoscaler does (RayStopper in
// python/ray/autoscaler/v2/instance_manager/subscribers/ray_stopper.py):
// idle nodes through DrainNode with DRAIN_NODE_REASON_IDLE_TERMINATION, all
// others through NodeInfoGcsService.DrainNode. No path sends
// DRAIN_NODE_REASON_PREEMPTION, which the raylet never rejects and which
// marks the node's actors preempted.
func TestNoPreemption(t *testing.T) {
	causes := []engine.Cause{engine.CauseIdle, engine.CauseMaxPerType, engine.CauseMaxNodes, engine.CauseOutdated,
		engine.CauseRayStopped, engine.CauseAllocationTimeout, engine.Cause("SOMETHING_NEW")}
	for _, cause := range causes {
		for _, drain := range []bool{true, false} {
			for _, rejected := range []bool{true, false} {
				ev := &events{}
				d := &fakeDrainer{ev: ev}
				if rejected {
					d.reject = map[string]string{"0a0a": "busy"}
				}
				rc := rayCluster(group("cpu", 2, 0, 5))
				plan := engine.Plan{
					Terminate: []engine.Termination{{Pod: "cpu-a", Group: "cpu", NodeID: "0a0a", Cause: cause, Drain: drain}},
					Replicas:  map[string]int{"cpu": 1},
				}
				if _, err := actuator.Apply(context.Background(), &fakePatcher{ev: ev}, d, rc, pods("cpu-a", "cpu-b"), plan, nil); err != nil {
					t.Fatalf("%s: %v", cause, err)
				}
				calls := d.drained()
				if !drain {
					if len(calls) != 0 {
						t.Errorf("%s without a Ray node: %d drain calls", cause, len(calls))
					}
					continue
				}
				if len(calls) != 1 {
					t.Fatalf("%s: %d calls, want 1", cause, len(calls))
				}
				want := stopCall
				if cause == engine.CauseIdle {
					want = rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION
				}
				if got := calls[0].reason; got != want {
					t.Errorf("%s: sent %v, want %v", cause, got, want)
				}
				if calls[0].reason == rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION {
					t.Errorf("%s: DRAIN_NODE_REASON_PREEMPTION sent", cause)
				}
			}
		}
	}
}

// TestApplyStopNotAcknowledged: a stop the GCS did not acknowledge keeps
// its pod, as a rejected drain does.
func TestApplyStopNotAcknowledged(t *testing.T) {
	ev := &events{}
	d := &fakeDrainer{ev: ev, reject: map[string]string{"0c0c": ""}}
	rc := rayCluster(group("cpu", 3, 0, 2))
	plan := engine.Plan{
		Terminate: []engine.Termination{{Pod: "cpu-c", Group: "cpu", NodeID: "0c0c", Cause: engine.CauseMaxPerType, Drain: true}},
		Replicas:  map[string]int{"cpu": 2},
	}
	res, err := actuator.Apply(context.Background(), &fakePatcher{ev: ev}, d, rc, pods("cpu-a", "cpu-b", "cpu-c"), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 1 || res.Rejected[0].Rejected == "" || len(res.Removed) != 0 {
		t.Errorf("Rejected %+v, Removed %+v: an unacknowledged stop must keep its pod with a reason", res.Rejected, res.Removed)
	}
}

// multiHost is a group of two-host replicas (a0+a1, b0+b1), as KubeRay
// creates and deletes them.
func multiHost() *rayv1.RayCluster {
	rc := rayCluster(group("tpu", 2, 0, 4))
	rc.Spec.WorkerGroupSpecs[0].NumOfHosts = 2
	return rc
}

// TestApplyMultiHostPartialDrain: one host of a replica drained, the other
// failed: neither is listed (KubeRay would replace the missing host), the
// replica stays whole, and the drained one waits for a later round.
func TestApplyMultiHostPartialDrain(t *testing.T) {
	ev := &events{}
	k := &fakePatcher{ev: ev}
	d := &fakeDrainer{ev: ev, fail: map[string]error{"a1": status.Error(codes.Aborted, "raylet")}}
	plan := engine.Plan{Terminate: []engine.Termination{idle("tpu-a0", "a0"), idle("tpu-a1", "a1")}, Replicas: map[string]int{"tpu": 1}}
	res, err := actuator.Apply(context.Background(), k, d, multiHost(), pods("tpu-a0", "tpu-a1", "tpu-b0", "tpu-b1"), plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Removed) != 0 || len(res.Failed) != 1 || len(res.Held) != 1 || res.Held[0].Pod != "tpu-a0" {
		t.Errorf("Removed %v, Failed %v, Held %v: want nothing listed, a1 failed, a0 held", podNames(res.Removed), res.Failed, res.Held)
	}
	if sent := k.sent(); len(sent) != 0 {
		t.Errorf("patch %s: the replica must stay whole (replicas 2, nothing listed)", sent[0].data)
	}
}

// TestApplyMultiHostHeld: one host held back holds its whole group's
// terminations: no host is drained.
func TestApplyMultiHostHeld(t *testing.T) {
	ev := &events{}
	d := &fakeDrainer{ev: ev}
	plan := engine.Plan{Terminate: []engine.Termination{idle("tpu-a0", "a0"), idle("tpu-a1", "a1")}, Replicas: map[string]int{"tpu": 1}}
	res, err := actuator.Apply(context.Background(), &fakePatcher{ev: ev}, d, multiHost(), pods("tpu-a0", "tpu-a1", "tpu-b0", "tpu-b1"), plan,
		func(pod string) bool { return pod == "tpu-a1" })
	if err != nil {
		t.Fatal(err)
	}
	if calls := d.drained(); len(calls) != 0 || len(res.Held) != 2 {
		t.Errorf("drains %v, held %v: a held host holds its replica's other host", calls, res.Held)
	}
}
