package scaler

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// pendingState is a Ray GCS state whose head is running and which has one
// pending {CPU: 1} request: any scaler that gets to decide scales the
// cluster up.
func pendingState() *rpcpb.ClusterResourceState {
	return &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 1,
		NodeStates:                  []*rpcpb.NodeState{gcsfake.HeadNode(rayNodeID(1), "rc-head", "10.0.0.2")},
		PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{
			Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 1}},
	}
}

// startFakeGCS serves a fake GCS answering state and reporting rayVersion
// ("" is gcsfake.DefaultRayVersion), and returns it with its address.
func startFakeGCS(t *testing.T, state *rpcpb.ClusterResourceState, rayVersion string) (*gcsfake.Autoscaler, string) {
	t.Helper()
	g := startGCS(t, state, rayVersion)
	return g.Autoscaler, g.Addr
}

// startGCS is startFakeGCS returning the whole fake GCS, so a test can
// change the Ray version it reports or take it down.
func startGCS(t *testing.T, state *rpcpb.ClusterResourceState, rayVersion string) *gcsfake.GCS {
	t.Helper()
	g := gcsfake.Start(t)
	g.Autoscaler.SetState(state)
	g.NodeInfo.SetVersion(rayVersion)
	return g
}

func inTreeTestCluster(inTree bool) *rayv1.RayCluster {
	tmpl := func(cpu string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "ray", Image: "rayproject/ray:2.9.0",
			Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse("2Gi")}}}}}}
	}
	return &rayv1.RayCluster{
		ObjectMeta: metav1.ObjectMeta{Name: "rc", Namespace: "ml",
			Annotations: map[string]string{defaults.AnnotationAutoscaling: defaults.AutoscalingCentral},
			Labels:      map[string]string{defaults.LabelAutoscaling: defaults.AutoscalingCentral}},
		Spec: rayv1.RayClusterSpec{
			EnableInTreeAutoscaling: ptr.To(inTree),
			HeadGroupSpec:           rayv1.HeadGroupSpec{RayStartParams: map[string]string{"num-cpus": "0"}, Template: tmpl("1")},
			WorkerGroupSpecs: []rayv1.WorkerGroupSpec{{GroupName: "wg", MinReplicas: ptr.To[int32](0), MaxReplicas: ptr.To[int32](5),
				Replicas: ptr.To[int32](0), Template: tmpl("1")}},
		},
	}
}

// headPod is a running head pod of cluster rc as KubeRay builds it, with
// KubeRay's autoscaler sidecar when sidecar is true.
func headPod(name string, sidecar bool) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ml", UID: types.UID("uid-" + name),
			Labels: map[string]string{LabelCluster: "rc", LabelNodeType: "head", LabelGroup: engine.HeadGroupName, "ray.io/is-ray-node": "yes"}},
		Spec:   corev1.PodSpec{Containers: []corev1.Container{{Name: "ray-head", Image: "rayproject/ray:2.9.0"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.2"},
	}
	if sidecar {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: AutoscalerContainerName, Image: "rayproject/ray:2.9.0"})
	}
	return p
}

type inTreeHarness struct {
	t      *testing.T
	r      *Reconciler
	k      client.Client
	gcs    *gcsfake.Autoscaler
	events *events.FakeRecorder
}

func newInTreeHarness(t *testing.T, objs ...client.Object) *inTreeHarness {
	t.Helper()
	return newHarnessWithRay(t, "", objs...)
}

// newHarnessWithRay is newInTreeHarness with a GCS that reports rayVersion
// ("" is gcsfake.DefaultRayVersion).
func newHarnessWithRay(t *testing.T, rayVersion string, objs ...client.Object) *inTreeHarness {
	t.Helper()
	g, addr := startFakeGCS(t, pendingState(), rayVersion)
	r, k, rec := newTestReconciler(t, addr, objs...)
	return &inTreeHarness{t: t, r: r, k: k, gcs: g, events: rec}
}

// newTestReconciler is a Reconciler over a fake Kubernetes client holding
// objs, dialling every cluster's GCS at gcsAddr.
func newTestReconciler(t *testing.T, gcsAddr string, objs ...client.Object) (*Reconciler, client.Client, *events.FakeRecorder) {
	t.Helper()
	return newInterceptedReconciler(t, gcsAddr, interceptor.Funcs{}, objs...)
}

// newInterceptedReconciler is newTestReconciler with a Kubernetes client
// whose calls go through funcs first.
func newInterceptedReconciler(t *testing.T, gcsAddr string, funcs interceptor.Funcs, objs ...client.Object) (*Reconciler, client.Client, *events.FakeRecorder) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := rayv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	k := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).
		WithIndex(&corev1.Pod{}, podClusterIndex, podCluster).WithInterceptorFuncs(funcs).Build()
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(100)
	r := &Reconciler{
		Client: k, Events: rec, Log: zap.NewNop(), Policy: defaults.DefaultPolicy,
		Interval: time.Second, Now: time.Now, metrics: m,
		memory: map[types.NamespacedName]*clusterMemory{},
		conns: &connections{clients: map[types.NamespacedName]*conn{}, proxy: gcsAddr,
			options: gcs.Options{Timeout: 5 * time.Second, Observe: m.observeGCS}, secrets: k},
	}
	t.Cleanup(r.conns.closeAll)
	return r, k, rec
}

// rounds runs n scaling rounds of the cluster.
func (h *inTreeHarness) rounds(n int) {
	h.t.Helper()
	for range n {
		if _, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Namespace: "ml", Name: "rc"}}); err != nil {
			h.t.Fatal(err)
		}
	}
}

func (h *inTreeHarness) replicas() int32 {
	h.t.Helper()
	var rc rayv1.RayCluster
	if err := h.k.Get(context.Background(), types.NamespacedName{Namespace: "ml", Name: "rc"}, &rc); err != nil {
		h.t.Fatal(err)
	}
	return *rc.Spec.WorkerGroupSpecs[0].Replicas
}

func (h *inTreeHarness) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-h.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// expectRefused runs rounds and asserts the scaler neither read nor wrote
// anything of the cluster, and recorded exactly the wanted Events.
func (h *inTreeHarness) expectRefused(what string, wantEvents ...string) {
	h.t.Helper()
	h.rounds(3)
	if n := h.gcs.Reads(); n != 0 {
		h.t.Errorf("%s: the scaler read the GCS %d times", what, n)
	}
	if n := len(h.gcs.Reports()); n != 0 {
		h.t.Errorf("%s: the scaler reported to the GCS %d times", what, n)
	}
	if n := h.replicas(); n != 0 {
		h.t.Errorf("%s: replicas patched to %d next to the in-tree autoscaler", what, n)
	}
	got := h.drainEvents()
	if len(got) != len(wantEvents) {
		h.t.Fatalf("%s: events %q, want %d", what, got, len(wantEvents))
	}
	for i, want := range wantEvents {
		if !strings.HasPrefix(got[i], "Warning "+EventInTreeAutoscalerRunning+" ") || !strings.Contains(got[i], want) {
			h.t.Errorf("%s: event %q, want a Warning %s containing %q", what, got[i], EventInTreeAutoscalerRunning, want)
		}
	}
}

// Two autoscalers never write one cluster's replicas: a cluster annotated
// central whose spec still enables KubeRay's in-tree autoscaler, or whose
// head pod still runs KubeRay's autoscaler sidecar (KubeRay does not
// recreate the head when enableInTreeAutoscaling turns false), is not
// scaled, drained or reported on, with one Warning Event per cause; once the
// head runs without the sidecar, the pending demand is answered.
func TestInTreeAutoscalerBlocksScaling(t *testing.T) {
	h := newInTreeHarness(t, inTreeTestCluster(true), headPod("rc-head-1", false))
	h.expectRefused("spec enables the in-tree autoscaler", "spec.enableInTreeAutoscaling is true")

	// The webhook turned enableInTreeAutoscaling off; the head pod KubeRay
	// created before keeps its sidecar.
	ctx := context.Background()
	var rc rayv1.RayCluster
	if err := h.k.Get(ctx, types.NamespacedName{Namespace: "ml", Name: "rc"}, &rc); err != nil {
		t.Fatal(err)
	}
	rc.Spec.EnableInTreeAutoscaling = ptr.To(false)
	if err := h.k.Update(ctx, &rc); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Delete(ctx, headPod("rc-head-1", false)); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Create(ctx, headPod("rc-head-2", true)); err != nil {
		t.Fatal(err)
	}
	h.expectRefused("head pod with the sidecar",
		"the head pod rc-head-2 still runs KubeRay's in-tree autoscaler container \"autoscaler\"; delete the head pod so KubeRay recreates it without the sidecar, or set raypilot.io/autoscaling: disabled")

	// Terminating, it may still write during its grace period.
	old := headPod("rc-head-2", true)
	if err := h.k.Get(ctx, client.ObjectKeyFromObject(old), old); err != nil {
		t.Fatal(err)
	}
	old.Finalizers = []string{"test/keep"}
	if err := h.k.Update(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Delete(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Create(ctx, headPod("rc-head-3", false)); err != nil {
		t.Fatal(err)
	}
	h.expectRefused("terminating head pod with the sidecar next to a new head") // same pod: no second Event

	// Another head pod with the sidecar: one more Event.
	if err := h.k.Get(ctx, client.ObjectKeyFromObject(old), old); err != nil {
		t.Fatal(err)
	}
	old.Finalizers = nil
	if err := h.k.Update(ctx, old); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Delete(ctx, headPod("rc-head-3", false)); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Create(ctx, headPod("rc-head-4", true)); err != nil {
		t.Fatal(err)
	}
	h.expectRefused("a second head pod with the sidecar", "the head pod rc-head-4 still runs")

	// KubeRay recreated the head without the sidecar: the scaler takes
	// over and answers the pending {CPU: 1}.
	if err := h.k.Delete(ctx, headPod("rc-head-4", true)); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Create(ctx, headPod("rc-head-5", false)); err != nil {
		t.Fatal(err)
	}
	h.rounds(1)
	if n := h.replicas(); n != 1 {
		t.Errorf("replicas %d once the head runs without the sidecar, want 1", n)
	}
	if h.gcs.Reads() == 0 || len(h.gcs.Reports()) == 0 {
		t.Errorf("GCS reads %d, reports %d once the head runs without the sidecar", h.gcs.Reads(), len(h.gcs.Reports()))
	}
	for _, e := range h.drainEvents() {
		if strings.Contains(e, EventInTreeAutoscalerRunning) {
			t.Errorf("event %q once the head runs without the sidecar", e)
		}
	}
}
