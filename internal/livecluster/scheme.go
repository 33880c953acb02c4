package livecluster

import (
	"fmt"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// Scheme holds the types Read and the plan's policy read: Kubernetes' own
// (pods, ConfigMaps, Secrets) and KubeRay's ray.io/v1.
func Scheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("add Kubernetes types to the scheme: %w", err)
	}
	if err := rayv1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("add ray.io/v1 types to the scheme: %w", err)
	}
	return scheme, nil
}
