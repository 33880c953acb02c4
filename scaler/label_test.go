package scaler

import (
	"context"
	"sync"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/defaults"
)

// patchLog records the patches sent for RayClusters, by type.
type patchLog struct {
	mu    sync.Mutex
	types []string
}

func (p *patchLog) funcs() interceptor.Funcs {
	return interceptor.Funcs{Patch: func(ctx context.Context, k client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
		if _, ok := obj.(*rayv1.RayCluster); ok {
			p.mu.Lock()
			p.types = append(p.types, string(patch.Type()))
			p.mu.Unlock()
		}
		return k.Patch(ctx, obj, patch, opts...)
	}}
}

func (p *patchLog) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.types
	p.types = nil
	return out
}

// A managed cluster without the label (annotated by hand, or expanded
// before the webhook wrote it) gets it with one merge patch, and its round
// goes on from the patched object: the scale-up lands in the same round,
// without a conflict. A cluster that has it is not patched for it.
func TestManagedClusterGetsTheLabel(t *testing.T) {
	var patches patchLog
	rc := inTreeTestCluster(false)
	rc.Labels = map[string]string{"team": "a"}
	h := newReconcileHarness(t, pendingState(), patches.funcs(), rc, headPod("rc-head", false))
	h.round()
	got := h.cluster()
	if got.Labels[defaults.LabelAutoscaling] != defaults.AutoscalingCentral || got.Labels["team"] != "a" {
		t.Errorf("labels %v, want %s=central and team=a", got.Labels, defaults.LabelAutoscaling)
	}
	if n := h.replicas(); n != 1 {
		t.Errorf("replicas %d, want 1: the round goes on after the label", n)
	}
	if p := patches.take(); len(p) != 2 || p[0] != "application/merge-patch+json" || p[1] != "application/json-patch+json" {
		t.Errorf("patches %q, want the label's merge patch, then the scale patch", p)
	}
	h.round()
	if p := patches.take(); len(p) != 0 {
		t.Errorf("patches %q once labelled and scaled, want none", p)
	}
}

// A cluster whose annotation no longer says central loses the label (its
// other labels stay) and is left alone otherwise; a cluster being deleted
// is not patched.
func TestUnmanagedClusterLosesTheLabel(t *testing.T) {
	for _, c := range []struct {
		name     string
		change   func(*rayv1.RayCluster)
		patches  int
		labelled bool
	}{
		{"annotation disabled", func(rc *rayv1.RayCluster) {
			rc.Annotations[defaults.AnnotationAutoscaling] = defaults.AutoscalingDisabled
		}, 1, false},
		{"annotation removed", func(rc *rayv1.RayCluster) { delete(rc.Annotations, defaults.AnnotationAutoscaling) }, 1, false},
		{"being deleted", func(rc *rayv1.RayCluster) { rc.Finalizers = []string{"test/keep"} }, 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var patches patchLog
			rc := inTreeTestCluster(false)
			rc.Labels["team"] = "a"
			c.change(rc)
			h := newReconcileHarness(t, pendingState(), patches.funcs(), rc, headPod("rc-head", false))
			if len(rc.Finalizers) > 0 {
				if err := h.k.Delete(context.Background(), rc); err != nil { // held by its finalizer
					t.Fatal(err)
				}
			}
			h.round()
			got := h.cluster()
			if _, ok := got.Labels[defaults.LabelAutoscaling]; ok != c.labelled || got.Labels["team"] != "a" {
				t.Errorf("labels %v, want %s present %v and team=a", got.Labels, defaults.LabelAutoscaling, c.labelled)
			}
			if p := patches.take(); len(p) != c.patches {
				t.Errorf("patches %q, want %d", p, c.patches)
			}
			h.expectIdle(c.name, 0)
		})
	}
}

// The controller reconciles the clusters opted in, and those still
// labelled without the annotation, so that their label goes.
func TestWatched(t *testing.T) {
	for _, c := range []struct {
		annotations, labels map[string]string
		want                bool
	}{
		{map[string]string{defaults.AnnotationAutoscaling: defaults.AutoscalingCentral}, nil, true},
		{nil, map[string]string{defaults.LabelAutoscaling: defaults.AutoscalingCentral}, true},
		{map[string]string{defaults.AnnotationAutoscaling: defaults.AutoscalingDisabled}, map[string]string{defaults.LabelAutoscaling: defaults.AutoscalingCentral}, true},
		{map[string]string{defaults.AnnotationAutoscaling: defaults.AutoscalingDisabled}, nil, false},
		{nil, map[string]string{"team": "a"}, false},
	} {
		rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Annotations: c.annotations, Labels: c.labels}}
		if got := watched(rc); got != c.want {
			t.Errorf("annotations %v, labels %v: watched %v, want %v", c.annotations, c.labels, got, c.want)
		}
	}
}
