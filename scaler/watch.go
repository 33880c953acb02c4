package scaler

import (
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// cacheOptions are the scaler's informer settings: RayClusters and Ray pods
// (not every pod of the cluster), in the namespaces listed (empty: all).
// Secrets are read live, in the namespace of a cached Ray pod only, so they
// follow.
//
// Both are read without a deep copy (the cache's objects themselves, a
// copy of the top-level struct only): the copies were about a tenth of
// the scaler's CPU at 2,000 clusters (bench/scalercap). Nothing a round
// does writes to them (TestRoundsDoNotMutateCachedObjects): label
// patches decode into a copy (syncLabel), the actuator patches a fresh
// object, and the decision only reads.
func cacheOptions(namespaces []string) cache.Options {
	var in map[string]cache.Config
	if len(namespaces) > 0 {
		in = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			in[ns] = cache.Config{}
		}
	}
	return cache.Options{
		// managedFields are the larger part of a cached RayCluster or pod
		// written by several managers (KubeRay, the webhook, the scaler,
		// kubelet) and nothing in the scaler reads them.
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&rayv1.RayCluster{}: {Namespaces: in, UnsafeDisableDeepCopy: ptr.To(true)},
			&corev1.Pod{}:       {Namespaces: in, Label: labels.SelectorFromSet(labels.Set{"ray.io/is-ray-node": "yes"}), UnsafeDisableDeepCopy: ptr.To(true)},
		}}
}
