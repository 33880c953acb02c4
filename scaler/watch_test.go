package scaler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCacheOptions: RayClusters and Ray pods are cached in the watched
// namespaces only (all without), pods by the Ray node label either way,
// both handed out without deep copies and kept without managedFields.
func TestCacheOptions(t *testing.T) {
	for _, tc := range []struct {
		namespaces []string
		want       int
	}{{nil, 0}, {[]string{"team-a", "team-b"}, 2}} {
		o := cacheOptions(tc.namespaces)
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}}}
		if o.DefaultTransform == nil {
			t.Fatal("cached objects keep their managedFields")
		}
		if got, err := o.DefaultTransform(pod); err != nil || len(got.(*corev1.Pod).ManagedFields) != 0 {
			t.Errorf("after the transform: %v, %v; want no managedFields", got, err)
		}
		if len(o.ByObject) != 2 {
			t.Fatalf("%d kinds configured, want RayCluster and Pod", len(o.ByObject))
		}
		for obj, by := range o.ByObject {
			if len(by.Namespaces) != tc.want {
				t.Errorf("watch %v: %T cached in %v", tc.namespaces, obj, by.Namespaces)
			}
			for _, ns := range tc.namespaces {
				if _, ok := by.Namespaces[ns]; !ok {
					t.Errorf("watch %v: %T not cached in %s", tc.namespaces, obj, ns)
				}
			}
			if by.UnsafeDisableDeepCopy == nil || !*by.UnsafeDisableDeepCopy {
				t.Errorf("%T deep-copied on every read", obj)
			}
			if _, pod := obj.(*corev1.Pod); pod && by.Label.String() != "ray.io/is-ray-node=yes" {
				t.Errorf("pods selected by %q", by.Label)
			}
		}
	}
}
