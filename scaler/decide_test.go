package scaler

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// twoIdleWorkers is the Ray state of twoGroupCluster: the head and the
// idle workers rc-wg-a and rc-wg-b, plus the pending requests given.
func twoIdleWorkers(pending ...*rpcpb.ResourceRequestByCount) *rpcpb.ClusterResourceState {
	return &rpcpb.ClusterResourceState{
		NodeStates: []*rpcpb.NodeState{
			gcsfake.HeadNode(rayNodeID(1), "rc-head", "10.0.0.2"),
			idleWorker(2, "rc-wg-a", "10.0.0.3"),
			idleWorker(3, "rc-wg-b", "10.0.0.4"),
		},
		PendingResourceRequests: pending,
	}
}

func twoIdleWorkerPods() []corev1.Pod {
	return []corev1.Pod{*headPod("rc-head", false), *workerPodOf("rc-wg-a", "wg", "10.0.0.3"), *workerPodOf("rc-wg-b", "wg", "10.0.0.4")}
}

func terminated(p engine.Plan) []string {
	var out []string
	for _, t := range p.Terminate {
		out = append(out, t.Pod)
	}
	slices.Sort(out)
	return out
}

// A pod the RayCluster already lists in workersToDelete is on its way out:
// Decide does not count it, so it is not terminated a second time, and only
// the other idle worker goes.
func TestDecideSkipsListedWorkers(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	rc := twoGroupCluster()
	d, err := Decide(rc, defaults.DefaultPolicy(), twoIdleWorkers(), twoIdleWorkerPods(), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := terminated(d.Plan); !slices.Equal(got, []string{"rc-wg-a", "rc-wg-b"}) {
		t.Fatalf("terminated %v, want both idle workers", got)
	}

	rc.Spec.WorkerGroupSpecs[0].Replicas = ptr.To[int32](1)
	rc.Spec.WorkerGroupSpecs[0].ScaleStrategy.WorkersToDelete = []string{"rc-wg-a"}
	d, err = Decide(rc, defaults.DefaultPolicy(), twoIdleWorkers(), twoIdleWorkerPods(), now)
	if err != nil {
		t.Fatal(err)
	}
	if got := terminated(d.Plan); !slices.Equal(got, []string{"rc-wg-b"}) {
		t.Errorf("terminated %v, want only rc-wg-b: rc-wg-a is listed for deletion already", got)
	}
	if d.Plan.Replicas["wg"] != 0 {
		t.Errorf("wg replicas %d, want 0", d.Plan.Replicas["wg"])
	}
}

// The policy's limits.maxWorkersPerCluster caps what Decide launches, and
// the pods of other clusters are not counted as this one's.
func TestDecideAppliesPolicyAndOwnPods(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	four := &rpcpb.ResourceRequestByCount{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}, Count: 3}
	policy := defaults.DefaultPolicy()
	policy.Limits.MaxWorkersPerCluster = 3
	pods := twoIdleWorkerPods()
	foreign := workerPodOf("other-wg-c", "wg", "10.0.0.9")
	foreign.Labels[LabelCluster] = "other"
	pods = append(pods, *foreign)
	d, err := Decide(twoGroupCluster(), policy, twoIdleWorkers(four), pods, now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Plan.Launch["big"] != 1 {
		t.Errorf("launch %v, want 1 big worker: 2 wg workers + 1 reach maxWorkersPerCluster 3", d.Plan.Launch)
	}
	if !d.Demand() {
		t.Error("Demand() false with 3 pending requests")
	}
	if slices.Contains(terminated(d.Plan), "other-wg-c") {
		t.Error("another cluster's pod planned for termination")
	}
}

// Demand counts pending requests and placement groups with bundles; a
// gang entry the GCS sent before it read the bundles, or a request for no
// unit, is no demand.
func TestDecisionDemand(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	st := twoIdleWorkers(&rpcpb.ResourceRequestByCount{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 0})
	st.PendingGangResourceRequests = []*rpcpb.GangResourceRequest{{Details: "0a1b:PACK|PENDING"}}
	d, err := Decide(twoGroupCluster(), defaults.DefaultPolicy(), st, twoIdleWorkerPods(), now)
	if err != nil {
		t.Fatal(err)
	}
	if d.Demand() {
		t.Error("Demand() true for a request of no unit and a placement group without bundles")
	}
	st.PendingGangResourceRequests = []*rpcpb.GangResourceRequest{gangOf("0a1b", "PACK", map[string]float64{"CPU": 1})}
	if d, err = Decide(twoGroupCluster(), defaults.DefaultPolicy(), st, twoIdleWorkerPods(), now); err != nil {
		t.Fatal(err)
	}
	if !d.Demand() {
		t.Error("Demand() false for a pending placement group")
	}
}

// A RayCluster whose node types cannot be derived is not decided on.
func TestDecideRefusesUnderivableNodeTypes(t *testing.T) {
	rc := twoGroupCluster()
	rc.Spec.WorkerGroupSpecs[1].Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
	if _, err := Decide(rc, defaults.DefaultPolicy(), twoIdleWorkers(), twoIdleWorkerPods(), time.Now()); err == nil {
		t.Error("no error for a worker group without a CPU count")
	}
}
