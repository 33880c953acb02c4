package scaler

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/defaults"
)

// The scaler reads RayClusters and pods from its cache without deep copies
// (cacheOptions): what a round gets shares its maps, slices and pointers
// with the cache, as controller-runtime's CacheReader hands them out with
// UnsafeDisableDeepCopy (a copy of the top-level struct only). Rounds that
// label the cluster, drain, list workers to delete and scale up must leave
// every cached object as it was.
func TestRoundsDoNotMutateCachedObjects(t *testing.T) {
	rc := twoGroupCluster()
	delete(rc.Labels, defaults.LabelAutoscaling) // the round labels it
	rc.Spec.WorkerGroupSpecs[0].ScaleStrategy.WorkersToDelete = []string{"rc-wg-gone"}
	rc.ResourceVersion = "1"
	pods := []*corev1.Pod{headPod("rc-head", false), workerPodOf("rc-wg-a", "wg", "10.0.0.3"), workerPodOf("rc-wg-b", "wg", "10.0.0.4")}
	cached := []client.Object{rc}
	for _, p := range pods {
		cached = append(cached, p)
	}
	var before []client.Object
	for _, o := range cached {
		before = append(before, o.DeepCopyObject().(client.Object))
	}
	funcs := interceptor.Funcs{
		Get: func(ctx context.Context, k client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if out, ok := obj.(*rayv1.RayCluster); ok && key == client.ObjectKeyFromObject(rc) {
				*out = *rc
				return nil
			}
			return k.Get(ctx, key, obj, opts...)
		},
		// The API client decodes a reply into the object it was given, as
		// encoding/json does: into its maps and slices.
		Patch: func(ctx context.Context, k client.WithWatch, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
			fresh := obj.DeepCopyObject().(client.Object)
			if err := k.Patch(ctx, fresh, patch, opts...); err != nil {
				return err
			}
			data, err := json.Marshal(fresh)
			if err != nil {
				return err
			}
			return json.Unmarshal(data, obj)
		},
		List: func(ctx context.Context, k client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if out, ok := list.(*corev1.PodList); ok {
				out.Items = nil
				for _, p := range pods {
					out.Items = append(out.Items, *p)
				}
				return nil
			}
			return k.List(ctx, list, opts...)
		},
	}
	objs := []client.Object{rc.DeepCopy()}
	for _, p := range pods {
		objs = append(objs, p.DeepCopy())
	}
	objs[0].SetResourceVersion("")
	h := newReconcileHarness(t, drainAndScaleState(), funcs, objs...)
	for range 3 {
		h.round()
	}
	if len(h.gcs.Drains()) == 0 || len(h.gcs.Reports()) == 0 {
		t.Fatalf("%d drains, %d reports: the rounds did not act", len(h.gcs.Drains()), len(h.gcs.Reports()))
	}
	for i, o := range cached {
		if !reflect.DeepEqual(o, before[i]) {
			t.Errorf("the rounds changed the cached %T %s:\nnow    %+v\nbefore %+v", o, o.GetName(), o, before[i])
		}
	}
}
