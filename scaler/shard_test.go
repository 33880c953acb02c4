package scaler

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// A cluster this replica does not own is left alone: no GCS call, no
// patch, no drain, no report, no Event, nothing remembered, and no requeue
// (a change of members enqueues it again); one it owns but waits a
// handover for comes back when the wait ends; once it may act, it acts.
func TestNotOwnedClusterLeftAlone(t *testing.T) {
	h := newReconcileHarness(t, drainAndScaleState(), interceptor.Funcs{}, drainAndScaleObjects()...)
	var act atomic.Bool
	var wait atomic.Int64
	h.r.Owner = func(key types.NamespacedName) (bool, time.Duration) {
		if key != rcKey {
			t.Errorf("owner asked about %s", key)
		}
		return act.Load(), time.Duration(wait.Load())
	}
	for range 3 {
		if res := h.round(); res.RequeueAfter != 0 || res.Requeue {
			t.Errorf("not owned: %+v, want no requeue", res)
		}
	}
	wait.Store(int64(3 * time.Second))
	if res := h.round(); res.RequeueAfter != 3*time.Second {
		t.Errorf("owned after a handover: %+v, want a requeue after the wait", res)
	}
	h.expectIdle("not owned", 2)
	if n := len(h.gcs.Drains()) + len(h.fake.NodeInfo.Stopped()) + len(h.gcs.Reports()); n != 0 {
		t.Errorf("%d drains and reports while not owned", n)
	}
	if len(h.r.memory) != 0 || len(h.r.conns.clients) != 0 {
		t.Errorf("not owned: %d clusters remembered, %d GCS connections; want none", len(h.r.memory), len(h.r.conns.clients))
	}
	act.Store(true)
	wait.Store(0)
	h.round()
	if len(h.gcs.Drains()) == 0 || len(h.gcs.Reports()) != 1 || *h.cluster().Spec.WorkerGroupSpecs[1].Replicas != 1 {
		t.Fatalf("owned: drains %d, reports %d, big replicas %d; want drains, 1 report and 1",
			len(h.gcs.Drains()), len(h.gcs.Reports()), *h.cluster().Spec.WorkerGroupSpecs[1].Replicas)
	}
}

// Ownership lost during a round (here: as the GCS receives the first
// drain) stops the round's writes: no patch of the RayCluster, no report
// to the GCS, no scaling or drain Event, and the cluster is forgotten.
func TestOwnershipLostMidRound(t *testing.T) {
	var owned atomic.Bool
	owned.Store(true)
	g := gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if strings.HasSuffix(info.FullMethod, "/DrainNode") {
			owned.Store(false)
		}
		return next(ctx, req)
	}))
	g.Autoscaler.SetState(drainAndScaleState())
	var patches atomic.Int64
	funcs := interceptor.Funcs{Patch: func(ctx context.Context, k client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if _, ok := obj.(*rayv1.RayCluster); ok {
			patches.Add(1)
		}
		return k.Patch(ctx, obj, patch, opts...)
	}}
	r, k, rec := newInterceptedReconciler(t, g.Addr, funcs, drainAndScaleObjects()...)
	h := &inTreeHarness{t: t, r: r, k: k, gcs: g.Autoscaler, events: rec}
	r.Owner = func(types.NamespacedName) (bool, time.Duration) { return owned.Load(), 0 }
	before := patches.Load() // the managed label
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: rcKey})
	if err != nil || res.Requeue || res.RequeueAfter != 0 {
		t.Fatalf("round: %+v, %v; want no requeue", res, err)
	}
	if len(g.Autoscaler.Drains()) == 0 {
		t.Fatal("no drain reached the GCS: the round did not start acting")
	}
	if n := patches.Load() - before; n != 0 {
		t.Errorf("%d patches of the RayCluster after ownership was lost", n)
	}
	if n := len(g.Autoscaler.Reports()); n != 0 {
		t.Errorf("%d reports after ownership was lost", n)
	}
	ev := h.drainEvents()
	for _, reason := range []string{EventScaledUp, EventScaledDown, EventDrainRejected, EventDrainFailed, EventGCSUnreachable} {
		if n := countEvents(ev, corev1.EventTypeNormal, reason) + countEvents(ev, corev1.EventTypeWarning, reason); n != 0 {
			t.Errorf("events %q: %s after ownership was lost", ev, reason)
		}
	}
	if len(r.memory) != 0 || len(r.conns.clients) != 0 {
		t.Errorf("%d clusters remembered, %d GCS connections; want none", len(r.memory), len(r.conns.clients))
	}
}
