package scaler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

var rcKey = types.NamespacedName{Namespace: "ml", Name: "rc"}

// reconcileHarness runs rounds of one Reconciler on cluster ml/rc against a
// fake GCS that counts every call it gets.
type reconcileHarness struct {
	*inTreeHarness
	fake  *gcsfake.GCS
	calls *atomic.Int64
}

// startCountingGCS serves a fake GCS answering state and counting the calls
// of both services.
func startCountingGCS(t *testing.T, state *rpcpb.ClusterResourceState) (*gcsfake.GCS, *atomic.Int64) {
	t.Helper()
	calls := &atomic.Int64{}
	g := gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		calls.Add(1)
		return next(ctx, req)
	}))
	g.Autoscaler.SetState(state)
	return g, calls
}

func newReconcileHarness(t *testing.T, state *rpcpb.ClusterResourceState, funcs interceptor.Funcs, objs ...client.Object) *reconcileHarness {
	t.Helper()
	g, calls := startCountingGCS(t, state)
	r, k, rec := newInterceptedReconciler(t, g.Addr, funcs, objs...)
	return &reconcileHarness{inTreeHarness: &inTreeHarness{t: t, r: r, k: k, gcs: g.Autoscaler, events: rec}, fake: g, calls: calls}
}

// round runs one round and returns its result.
func (h *reconcileHarness) round() ctrl.Result {
	h.t.Helper()
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: rcKey})
	if err != nil {
		h.t.Fatalf("round: %v", err)
	}
	return res
}

// cluster is the RayCluster as stored.
func (h *reconcileHarness) cluster() *rayv1.RayCluster {
	h.t.Helper()
	rc := &rayv1.RayCluster{}
	if err := h.k.Get(context.Background(), rcKey, rc); err != nil {
		h.t.Fatal(err)
	}
	return rc
}

// expectIdle asserts that the rounds so far neither called the GCS nor
// changed the cluster nor recorded an Event.
func (h *reconcileHarness) expectIdle(what string, replicas int32) {
	h.t.Helper()
	if n := h.calls.Load(); n != 0 {
		h.t.Errorf("%s: %d GCS calls, want none", what, n)
	}
	if n := h.replicas(); n != replicas {
		h.t.Errorf("%s: replicas %d, want %d", what, n, replicas)
	}
	if ev := h.drainEvents(); len(ev) != 0 {
		h.t.Errorf("%s: events %q, want none", what, ev)
	}
}

// countEvents counts the events of type and reason.
func countEvents(events []string, eventType, reason string) int {
	n := 0
	for _, e := range events {
		if strings.HasPrefix(e, eventType+" "+reason+" ") {
			n++
		}
	}
	return n
}

// An unreachable GCS holds the cluster: the rounds back off (the interval
// doubled per failure, at most 30 s) and the outage gets one Warning Event,
// however many rounds it lasts, and one Normal GCSReachable Event when it
// ends. The next
// outage gets its own Warning, and its backoff starts over.
func TestGCSOutageBacksOffWithOneEvent(t *testing.T) {
	h := newReconcileHarness(t, pendingState(), interceptor.Funcs{}, inTreeTestCluster(false), headPod("rc-head", false))
	h.r.conns.options.Timeout = 200 * time.Millisecond // a refused dial fails at its timeout
	if res := h.round(); res.RequeueAfter != h.r.Interval || h.replicas() != 1 {
		t.Fatalf("first round: %+v, replicas %d; want the interval and 1", res, h.replicas())
	}
	h.drainEvents()

	outage := func(backoffs ...time.Duration) {
		t.Helper()
		h.fake.Stop()
		for i, want := range backoffs {
			if res := h.round(); res.RequeueAfter != want || res.Requeue {
				t.Errorf("failed round %d: %+v, want RequeueAfter %s", i+1, res, want)
			}
		}
		ev := h.drainEvents()
		if n := countEvents(ev, corev1.EventTypeWarning, EventGCSUnreachable); n != 1 || len(ev) != 1 {
			t.Errorf("events during the outage %q, want one Warning %s", ev, EventGCSUnreachable)
		}
		if err := h.fake.Restart(); err != nil {
			t.Fatal(err)
		}
		if res := h.round(); res.RequeueAfter != h.r.Interval {
			t.Errorf("round after the outage: %+v, want the interval", res)
		}
		ev = h.drainEvents()
		if n := countEvents(ev, corev1.EventTypeNormal, EventGCSReachable); n != 1 || len(ev) != 1 {
			t.Errorf("events after the outage %q, want one Normal %s", ev, EventGCSReachable)
		}
	}
	s := time.Second
	outage(2*s, 4*s, 8*s, 16*s, 30*s, 30*s)
	outage(2*s, 4*s)
	if n := h.replicas(); n != 1 {
		t.Errorf("replicas %d, want 1: nothing is decided while the GCS is down", n)
	}
}

// A patch that loses a race with another writer (a conflict) is not an
// error: the round asks to be run again at once, reports nothing on the
// decision that was not written, and the next round writes it.
func TestPatchConflictRequeues(t *testing.T) {
	var patches atomic.Int64
	funcs := interceptor.Funcs{Patch: func(ctx context.Context, k client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if _, ok := obj.(*rayv1.RayCluster); ok && patches.Add(1) == 1 {
			// Another writer changed the RayCluster since the round read it.
			rc := &rayv1.RayCluster{}
			if err := k.Get(ctx, client.ObjectKeyFromObject(obj), rc); err != nil {
				return err
			}
			rc.Labels = map[string]string{"touched": "yes"}
			if err := k.Update(ctx, rc); err != nil {
				return err
			}
			return apierrors.NewConflict(schema.GroupResource{Group: "ray.io", Resource: "rayclusters"}, rc.Name, nil)
		}
		return k.Patch(ctx, obj, patch, opts...)
	}}
	h := newReconcileHarness(t, pendingState(), funcs, inTreeTestCluster(false), headPod("rc-head", false))
	res, err := h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: rcKey})
	if err != nil || !res.Requeue {
		t.Fatalf("conflicting round: %+v, %v; want Requeue and no error", res, err)
	}
	if n := h.replicas(); n != 0 {
		t.Errorf("replicas %d after the conflict, want 0", n)
	}
	if n := len(h.gcs.Reports()); n != 0 {
		t.Errorf("%d reports after the conflict, want none", n)
	}
	if ev := h.drainEvents(); countEvents(ev, corev1.EventTypeNormal, EventScaledUp) != 0 {
		t.Errorf("events %q: a ScaledUp Event for a patch that failed", ev)
	}

	if res := h.round(); res.RequeueAfter != h.r.Interval {
		t.Errorf("next round: %+v, want the interval", res)
	}
	if n := h.replicas(); n != 1 {
		t.Errorf("replicas %d after the next round, want 1: the decision was lost", n)
	}
	if h.cluster().Labels["touched"] != "yes" {
		t.Error("the other writer's change was overwritten")
	}
	if n := len(h.gcs.Reports()); n != 1 {
		t.Errorf("%d reports, want 1", n)
	}
}

// drainAndScaleState is twoGroupCluster's Ray state with its two workers
// idle for long and a pending {CPU: 4} only the group "big" takes: a
// round that acts drains, patches and reports.
func drainAndScaleState() *rpcpb.ClusterResourceState {
	return twoIdleWorkers(&rpcpb.ResourceRequestByCount{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}, Count: 1})
}

func drainAndScaleObjects() []client.Object {
	return []client.Object{twoGroupCluster(), headPod("rc-head", false),
		workerPodOf("rc-wg-a", "wg", "10.0.0.3"), workerPodOf("rc-wg-b", "wg", "10.0.0.4")}
}

// A replica that does not lead waits: no GCS call, no patch, no drain, no
// report, no Event; once it leads, it acts. A replica that stops leading
// keeps nothing of the cluster (no memory of its rounds, no GCS
// connection), so when it leads again it starts afresh as a new leader
// would: the time it followed is not loop lag.
func TestFollowerLeavesClustersAlone(t *testing.T) {
	h := newReconcileHarness(t, drainAndScaleState(), interceptor.Funcs{}, drainAndScaleObjects()...)
	var leading atomic.Bool
	h.r.Leading = leading.Load
	now := time.Unix(1_800_000_000, 0)
	h.r.Now = func() time.Time { return now }
	follow := func(what string) {
		t.Helper()
		for range 3 {
			now = now.Add(h.r.Interval)
			if res := h.round(); res.RequeueAfter != h.r.Interval {
				t.Errorf("%s: %+v, want the interval", what, res)
			}
		}
		if len(h.r.memory) != 0 || len(h.r.conns.clients) != 0 {
			t.Errorf("%s: %d clusters remembered, %d GCS connections; want none", what, len(h.r.memory), len(h.r.conns.clients))
		}
	}
	follow("not leading")
	h.expectIdle("not leading", 2)
	if n := len(h.gcs.Drains()) + len(h.fake.NodeInfo.Stopped()) + len(h.gcs.Reports()); n != 0 {
		t.Errorf("%d drains and reports while not leading", n)
	}

	leading.Store(true)
	h.round()
	if len(h.gcs.Drains()) == 0 || len(h.gcs.Reports()) != 1 || *h.cluster().Spec.WorkerGroupSpecs[1].Replicas != 1 {
		t.Fatalf("leading: drains %d, reports %d, big replicas %d; want drains, 1 report and 1",
			len(h.gcs.Drains()), len(h.gcs.Reports()), *h.cluster().Spec.WorkerGroupSpecs[1].Replicas)
	}

	leading.Store(false)
	calls := h.calls.Load()
	follow("no longer leading")
	if n := h.calls.Load() - calls; n != 0 {
		t.Errorf("%d GCS calls after losing the lead", n)
	}
	leading.Store(true)
	now = now.Add(time.Minute)
	h.round()
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.r.metrics.loopLag)
	families, err := reg.Gather()
	if err != nil || len(families) != 1 {
		t.Fatalf("loop lag metric: %v, %v", families, err)
	}
	if lag := families[0].GetMetric()[0].GetHistogram(); lag.GetSampleCount() != 0 {
		t.Errorf("%d loop lag observations (sum %gs): the time spent following counted as lag", lag.GetSampleCount(), lag.GetSampleSum())
	}
	if len(h.gcs.Reports()) != 2 {
		t.Errorf("%d reports, want 2: leading again, the replica acts", len(h.gcs.Reports()))
	}
}

// A suspended RayCluster (spec.suspend: KubeRay deletes its pods) is left
// alone until it is resumed.
func TestSuspendedClusterIsLeftAlone(t *testing.T) {
	objs := drainAndScaleObjects()
	objs[0].(*rayv1.RayCluster).Spec.Suspend = ptr.To(true)
	h := newReconcileHarness(t, drainAndScaleState(), interceptor.Funcs{}, objs...)
	for range 3 {
		if res := h.round(); res.RequeueAfter != h.r.Interval {
			t.Errorf("suspended round: %+v, want the interval", res)
		}
	}
	h.expectIdle("suspended", 2)

	rc := h.cluster()
	rc.Spec.Suspend = ptr.To(false)
	if err := h.k.Update(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	h.round()
	if h.calls.Load() == 0 || len(h.gcs.Reports()) != 1 {
		t.Errorf("resumed: %d GCS calls, %d reports; want the round to act", h.calls.Load(), len(h.gcs.Reports()))
	}
}

// Scaling waits for a running head, as Ray's autoscaler (which runs in the
// head) does: with no head pod, a pending one or a terminating one, the
// round makes no GCS call and comes back after the interval.
func TestScalingWaitsForTheHead(t *testing.T) {
	ctx := context.Background()
	pending := headPod("rc-head", false)
	pending.Status.Phase = corev1.PodPending
	pending.Finalizers = []string{"test/keep"}
	h := newReconcileHarness(t, pendingState(), interceptor.Funcs{}, inTreeTestCluster(false), pending)
	wait := func(what string) {
		t.Helper()
		for range 2 {
			if res := h.round(); res.RequeueAfter != h.r.Interval {
				t.Errorf("%s: %+v, want the interval", what, res)
			}
		}
		h.expectIdle(what, 0)
	}
	wait("head pending")

	head := &corev1.Pod{}
	if err := h.k.Get(ctx, client.ObjectKeyFromObject(pending), head); err != nil {
		t.Fatal(err)
	}
	head.Status.Phase = corev1.PodRunning
	if err := h.k.Status().Update(ctx, head); err != nil {
		t.Fatal(err)
	}
	if err := h.k.Delete(ctx, head); err != nil { // held by its finalizer
		t.Fatal(err)
	}
	if err := h.k.Get(ctx, client.ObjectKeyFromObject(pending), head); err != nil || head.Status.Phase != corev1.PodRunning || head.DeletionTimestamp == nil {
		t.Fatalf("head %s, deletionTimestamp %v (%v); want a running, terminating head", head.Status.Phase, head.DeletionTimestamp, err)
	}
	wait("head terminating")

	if err := h.k.Get(ctx, client.ObjectKeyFromObject(pending), head); err != nil {
		t.Fatal(err)
	}
	head.Finalizers = nil
	if err := h.k.Update(ctx, head); err != nil {
		t.Fatal(err)
	}
	wait("no head pod")

	if err := h.k.Create(ctx, headPod("rc-head-2", false)); err != nil {
		t.Fatal(err)
	}
	h.round()
	if h.calls.Load() == 0 || h.replicas() != 1 {
		t.Errorf("head running: %d GCS calls, replicas %d; want the round to act", h.calls.Load(), h.replicas())
	}
}
