package raysim

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Run syncs the Ray pods of every cluster from the API server and reads the
// Secrets a head's token comes from.
func TestRunReadsPodsAndSecrets(t *testing.T) {
	head := withEnv(pod("head-0", "headgroup", "head", "2"),
		corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"},
		corev1.EnvVar{Name: "RAY_AUTH_TOKEN", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "c-auth"}, Key: "auth_token"}}})
	head.Labels["ray.io/is-ray-node"] = "yes"
	worker := pod("w-1", "g", "worker", "2")
	worker.Labels["ray.io/is-ray-node"] = "yes"
	cs := fake.NewClientset(head, worker,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c-auth"}, Data: map[string][]byte{"auth_token": []byte("watched")}})
	s := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, cs, 20*time.Millisecond) }()
	as, _ := clients(t, s, "ns", "c")
	deadline := time.Now().Add(10 * time.Second)
	for {
		reply, err := as.GetClusterResourceState(bearer("watched"), &rpcpb.GetClusterResourceStateRequest{})
		if err == nil && len(reply.ClusterResourceState.NodeStates) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods and token never synced: %v %v", reply, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	checkAuth(t, s, "watched")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
