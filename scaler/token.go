package scaler

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// token reads Ray's auth token the way the head's Ray container gets it:
// with RAY_AUTH_MODE=token, from RAY_AUTH_TOKEN's value or the Secret key it
// references (KubeRay's authOptions creates that Secret).
func (cs *connections) token(ctx context.Context, namespace string, head *corev1.Pod) (string, error) {
	if head == nil || len(head.Spec.Containers) == 0 {
		return "", nil
	}
	env := head.Spec.Containers[0].Env
	mode := ""
	for _, e := range env {
		if e.Name == "RAY_AUTH_MODE" {
			mode = e.Value
		}
	}
	if mode != "token" {
		return "", nil
	}
	for _, e := range env {
		if e.Name != "RAY_AUTH_TOKEN" {
			continue
		}
		if e.Value != "" {
			return e.Value, nil
		}
		if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			break
		}
		ref := e.ValueFrom.SecretKeyRef
		var s corev1.Secret
		if err := cs.secrets.Get(ctx, types.NamespacedName{Namespace: namespace, Name: ref.Name}, &s); err != nil {
			return "", fmt.Errorf("read Ray's auth token from Secret %s/%s: %w", namespace, ref.Name, err)
		}
		tok := string(s.Data[ref.Key])
		if tok == "" {
			return "", fmt.Errorf("Secret %s/%s has no key %q with Ray's auth token", namespace, ref.Name, ref.Key)
		}
		return tok, nil
	}
	return "", fmt.Errorf("the head pod %s sets RAY_AUTH_MODE=token but no readable RAY_AUTH_TOKEN", head.Name)
}
