package livecluster

import (
	"context"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func rayPod(ns, name, cluster, nodeType string, phase corev1.PodPhase) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{
			"ray.io/cluster": cluster, "ray.io/node-type": nodeType, "ray.io/group": "small-wg",
		}},
		Status: corev1.PodStatus{Phase: phase},
	}
}

func fakeReader(t *testing.T, objs ...client.Object) client.Reader {
	t.Helper()
	scheme, err := Scheme()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).Build()
}

// Read returns the cluster and exactly its pods: not another cluster's in
// the namespace, nor a same-named cluster's in another namespace.
func TestReadListsTheClustersPods(t *testing.T) {
	rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "rc"}}
	c := fakeReader(t, rc,
		rayPod("team", "rc-head", "rc", "head", corev1.PodRunning),
		rayPod("team", "rc-worker-a", "rc", "worker", corev1.PodRunning),
		rayPod("team", "other-worker", "other", "worker", corev1.PodRunning),
		rayPod("elsewhere", "rc-worker-b", "rc", "worker", corev1.PodRunning),
	)
	got, err := Read(context.Background(), c, types.NamespacedName{Namespace: "team", Name: "rc"})
	if err != nil {
		t.Fatal(err)
	}
	if got.RayCluster.Name != "rc" {
		t.Errorf("RayCluster %s", got.RayCluster.Name)
	}
	var names []string
	for _, p := range got.Pods {
		names = append(names, p.Namespace+"/"+p.Name)
	}
	if len(names) != 2 || names[0] != "team/rc-head" || names[1] != "team/rc-worker-a" {
		t.Errorf("pods %v, want team/rc-head and team/rc-worker-a", names)
	}
	if _, err := Read(context.Background(), c, types.NamespacedName{Namespace: "team", Name: "missing"}); err == nil {
		t.Error("a missing RayCluster read without error")
	}
}
