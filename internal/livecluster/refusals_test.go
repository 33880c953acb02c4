package livecluster

import (
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// Each reason the scaler's round has to leave a cluster alone is said;
// a cluster handed to the scaler, running, has none.
func TestRefusals(t *testing.T) {
	central := func() *rayv1.RayCluster {
		return &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Name: "rc", Annotations: map[string]string{"raypilot.io/autoscaling": "central"}},
			Spec: rayv1.RayClusterSpec{EnableInTreeAutoscaling: ptr.To(false)}}
	}
	head := rayPod("ns", "rc-head", "rc", "head", corev1.PodRunning)
	sidecar := head.DeepCopy()
	sidecar.Spec.Containers = []corev1.Container{{Name: "ray-head"}, {Name: "autoscaler"}}
	terminating := sidecar.DeepCopy()
	terminating.DeletionTimestamp = &metav1.Time{}
	ended := sidecar.DeepCopy()
	ended.Status.Phase = corev1.PodSucceeded

	for _, tc := range []struct {
		name string
		edit func(*rayv1.RayCluster)
		head *corev1.Pod
		want string // a part of the one reason; "" for none
	}{
		{name: "handed to the scaler", head: head},
		{name: "no annotation", edit: func(rc *rayv1.RayCluster) { rc.Annotations = nil }, head: head, want: "it has no annotation raypilot.io/autoscaling"},
		{name: "disabled", edit: func(rc *rayv1.RayCluster) { rc.Annotations["raypilot.io/autoscaling"] = "disabled" }, head: head, want: `is "disabled"`},
		{name: "deleting", edit: func(rc *rayv1.RayCluster) { rc.DeletionTimestamp = &metav1.Time{} }, head: head, want: "being deleted"},
		{name: "suspended", edit: func(rc *rayv1.RayCluster) { rc.Spec.Suspend = ptr.To(true) }, head: head, want: "spec.suspend"},
		{name: "in-tree spec", edit: func(rc *rayv1.RayCluster) { rc.Spec.EnableInTreeAutoscaling = ptr.To(true) }, head: head, want: "spec.enableInTreeAutoscaling"},
		{name: "sidecar still running", head: sidecar, want: "the head pod rc-head still runs KubeRay's in-tree autoscaler"},
		{name: "sidecar of a terminating head", head: terminating, want: "while it terminates"},
		{name: "sidecar of an ended head", head: ended},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := central()
			if tc.edit != nil {
				tc.edit(rc)
			}
			got := Cluster{RayCluster: rc, Pods: []corev1.Pod{*tc.head}}.Refusals()
			switch {
			case tc.want == "" && len(got) != 0:
				t.Errorf("refusals %q, want none", got)
			case tc.want != "" && (len(got) != 1 || !strings.Contains(got[0], tc.want)):
				t.Errorf("refusals %q, want one with %q", got, tc.want)
			}
		})
	}
}
