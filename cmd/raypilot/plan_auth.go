package main

import (
	"context"
	"errors"
	"fmt"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/raypilot/raypilot/scaler"
)

// planLiveAuth finds the Ray credential the scaler would send to cluster
// key's GCS (scaler.GCSAuth), reading Ray's token from its Secret through
// r. A cluster with Ray's Kubernetes token authentication is refused: the
// plan has no Ray client ServiceAccount, and it never sends the kubeconfig
// user's own token, which the head pod could capture.
func planLiveAuth(ctx context.Context, r client.Reader, key types.NamespacedName, rc *rayv1.RayCluster, head *corev1.Pod) (scaler.RayAuth, error) {
	auth, err := scaler.GCSAuth(ctx, r, nil, rc, head)
	switch {
	case errors.Is(err, scaler.ErrKubernetesAuthOff):
		return scaler.RayAuth{}, fmt.Errorf("RayCluster %s delegates Ray's token authentication to Kubernetes: raypilot plan sends no Kubernetes token "+
			"to a GCS (never yours, which the head pod could capture), so it cannot read this one", key)
	case apierrors.IsForbidden(err):
		return scaler.RayAuth{}, fmt.Errorf("RayCluster %s: %w (raypilot plan reads Ray's token with your kubeconfig's credentials)", key, err)
	case err != nil:
		return scaler.RayAuth{}, fmt.Errorf("RayCluster %s: %w", key, err)
	}
	return auth, nil
}
