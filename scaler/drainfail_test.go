package scaler

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

func rayNodeID(b byte) []byte { return bytes.Repeat([]byte{b}, 28) }

func workerPodOf(name, grp, ip string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", UID: types.UID("uid-" + name),
			Labels: map[string]string{LabelCluster: "rc", LabelNodeType: "worker", LabelGroup: grp, "ray.io/is-ray-node": "yes"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "ray-worker", Image: "rayproject/ray:2.52.0"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

// twoGroupCluster has two idle workers in group "wg" and a group "big" for
// demand that only it can take.
func twoGroupCluster() *rayv1.RayCluster {
	tmpl := func(cpu string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ray", Image: "rayproject/ray:2.52.0",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("2Gi")}}}}}}
	}
	return &rayv1.RayCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "ml",
			Annotations: map[string]string{defaults.AnnotationAutoscaling: defaults.AutoscalingCentral},
			Labels:      map[string]string{defaults.LabelAutoscaling: defaults.AutoscalingCentral}},
		Spec: rayv1.RayClusterSpec{
			EnableInTreeAutoscaling: ptr.To(false),
			HeadGroupSpec:           rayv1.HeadGroupSpec{RayStartParams: map[string]string{"num-cpus": "0"}, Template: tmpl("1")},
			WorkerGroupSpecs: []rayv1.WorkerGroupSpec{
				{GroupName: "wg", MinReplicas: ptr.To[int32](0), MaxReplicas: ptr.To[int32](5), Replicas: ptr.To[int32](2), Template: tmpl("1")},
				{GroupName: "big", MinReplicas: ptr.To[int32](0), MaxReplicas: ptr.To[int32](5), Replicas: ptr.To[int32](0), Template: tmpl("4")},
			},
		},
	}
}

func idleWorker(id byte, pod, ip string) *rpcpb.NodeState {
	return &rpcpb.NodeState{NodeId: rayNodeID(id), InstanceId: pod, RayNodeTypeName: "wg", NodeIpAddress: ip,
		Status: rpcpb.NodeStatus_IDLE, IdleDurationMs: int64(10 * time.Minute / time.Millisecond),
		TotalResources: map[string]float64{"CPU": 1}, AvailableResources: map[string]float64{"CPU": 1}}
}

// TestDrainFailureIsPerNode: one node's drain answered ABORTED (a raylet
// failure the GCS forwards) does not stall the cluster. In the same round
// the other idle node is drained and listed, and the demand for another
// group is scaled up; the failing node keeps its pod and replica, gets one
// DrainFailed Event, is held while its backoff lasts and is drained again
// after it.
func TestDrainFailureIsPerNode(t *testing.T) {
	fakeGCS, addr := startFakeGCS(t, &rpcpb.ClusterResourceState{
		NodeStates: []*rpcpb.NodeState{
			gcsfake.HeadNode(rayNodeID(1), "rc-head", "10.0.0.2"),
			idleWorker(2, "rc-wg-a", "10.0.0.3"),
			idleWorker(3, "rc-wg-b", "10.0.0.4"),
		},
		PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}, Count: 1}},
	}, "")
	var mu sync.Mutex
	failing := true
	fakeGCS.OnDrain(func(req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
		mu.Lock()
		defer mu.Unlock()
		if failing && bytes.Equal(req.GetNodeId(), rayNodeID(2)) {
			return nil, status.Error(codes.Aborted, "raylet 10.0.0.3 did not answer DrainRaylet")
		}
		return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
	})
	r, k, rec := newTestReconciler(t, addr, twoGroupCluster(), headPod("rc-head", false),
		workerPodOf("rc-wg-a", "wg", "10.0.0.3"), workerPodOf("rc-wg-b", "wg", "10.0.0.4"))
	now := time.Unix(1_800_000_000, 0)
	r.Now = func() time.Time { return now }
	round := func() {
		t.Helper()
		if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ml", Name: "rc"}}); err != nil {
			t.Fatal(err)
		}
	}
	groups := func() (wg, big rayv1.WorkerGroupSpec) {
		t.Helper()
		var rc rayv1.RayCluster
		if err := k.Get(context.Background(), types.NamespacedName{Namespace: "ml", Name: "rc"}, &rc); err != nil {
			t.Fatal(err)
		}
		return rc.Spec.WorkerGroupSpecs[0], rc.Spec.WorkerGroupSpecs[1]
	}
	events := func() []string {
		var out []string
		for {
			select {
			case e := <-rec.Events:
				out = append(out, e)
			default:
				return out
			}
		}
	}

	round()
	wg, big := groups()
	if *big.Replicas != 1 {
		t.Errorf("big replicas %d, want 1: the scale-up lands in the round of the failed drain", *big.Replicas)
	}
	if *wg.Replicas != 1 || !slices.Equal(wg.ScaleStrategy.WorkersToDelete, []string{"rc-wg-b"}) {
		t.Errorf("wg replicas %d, workersToDelete %v; want 1 and [rc-wg-b]: the failing node keeps its pod and replica",
			*wg.Replicas, wg.ScaleStrategy.WorkersToDelete)
	}
	ev := events()
	failed := 0
	for _, e := range ev {
		if strings.HasPrefix(e, "Warning "+EventDrainFailed+" ") {
			failed++
			if !strings.Contains(e, "rc-wg-a") || !strings.Contains(e, "Aborted") || !strings.Contains(e, "02020202") {
				t.Errorf("event %q does not name the pod, the node and the error", e)
			}
		}
		if strings.Contains(e, EventGCSUnreachable) {
			t.Errorf("event %q: one node's drain failure is not an unreachable GCS", e)
		}
	}
	if failed != 1 {
		t.Errorf("events %q, want one DrainFailed", ev)
	}
	if n := len(fakeGCS.Reports()); n != 1 {
		t.Errorf("%d reports, want 1: the round's report still goes out", n)
	}

	// Within the backoff: the node is held, no drain call.
	drains := len(fakeGCS.Drains())
	now = now.Add(500 * time.Millisecond)
	round()
	if n := len(fakeGCS.Drains()); n != drains {
		t.Errorf("%d drain calls during the backoff, want none", n-drains)
	}

	// After it, drained again; this time Ray accepts.
	mu.Lock()
	failing = false
	mu.Unlock()
	now = now.Add(2 * time.Second)
	round()
	var retried bool
	for _, d := range fakeGCS.Drains()[drains:] {
		retried = retried || bytes.Equal(d.GetNodeId(), rayNodeID(2))
	}
	if !retried {
		t.Fatal("the failing node was not drained again after its backoff")
	}
	wg, _ = groups()
	if !slices.Contains(wg.ScaleStrategy.WorkersToDelete, "rc-wg-a") {
		t.Errorf("workersToDelete %v, want rc-wg-a once its drain went through", wg.ScaleStrategy.WorkersToDelete)
	}
}
