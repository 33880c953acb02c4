package livecluster

import (
	"context"
	"fmt"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler"
)

// Cluster is a RayCluster and its pods as the API server returned them.
type Cluster struct {
	RayCluster *rayv1.RayCluster
	// Pods are the pods of the RayCluster's namespace labelled
	// ray.io/cluster with its name, as the scaler lists them.
	Pods []corev1.Pod
}

// Read gets the RayCluster key and its pods. Errors name the object and
// keep the API error reachable (apierrors.IsNotFound, IsForbidden).
func Read(ctx context.Context, c client.Reader, key types.NamespacedName) (Cluster, error) {
	rc := &rayv1.RayCluster{}
	if err := c.Get(ctx, key, rc); err != nil {
		return Cluster{}, fmt.Errorf("get RayCluster %s: %w", key, err)
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods, client.InNamespace(key.Namespace), client.MatchingLabels{scaler.LabelCluster: key.Name}); err != nil {
		return Cluster{}, fmt.Errorf("list pods of RayCluster %s: %w", key, err)
	}
	return Cluster{RayCluster: rc, Pods: pods.Items}, nil
}
