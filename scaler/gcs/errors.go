package gcs

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnsupportedRay means the GCS answered UNIMPLEMENTED: it does not serve
// the call, so its Ray is older than every release the scaler supports
// (CheckRayVersion; Ray added the autoscaler API in 2.6 and DrainNode after
// 2.6.0).
var ErrUnsupportedRay = errors.New("the GCS does not serve this call: its Ray is older than " +
	minSupported.String() + ", the oldest release the scaler supports")

// ErrUnauthenticated means the GCS answered UNAUTHENTICATED: the cluster
// runs with Ray token authentication and the credential raypilot sent was
// missing or refused. Its text covers every mode, as the GCS does not say
// which it runs (docs/ray-auth.md has the details).
var ErrUnauthenticated = errors.New("the GCS refused raypilot's credential (Ray token authentication, Ray 2.52+; docs/ray-auth.md). " +
	"Shared token (RAY_AUTH_MODE=token, spec.authOptions, or unset from Ray 2.61 on unless RAY_AUTH_MODE=disabled): " +
	"raypilot sends the head's token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token, from its Secret; " +
	"key " + AuthTokenSecretKey + " with authOptions); the GCS keeps its first token, so restart the head pod after changing the Secret. " +
	"Kubernetes mode (RAY_ENABLE_K8S_TOKEN_AUTH=true, enableK8sTokenAuth, RAY_AUTH_MODE=k8s): raypilot sends a token of its Ray client ServiceAccount, " +
	"which needs ray:write (ray-user on early builds) on rayclusters.ray.io; the head's ServiceAccount needs create on tokenreviews and subjectaccessreviews, " +
	"and its Ray container RAY_CLUSTER_NAME and RAY_CLUSTER_NAMESPACE")

// wrapRPCError adds the GCS address and the RPC name to err, maps
// UNIMPLEMENTED to ErrUnsupportedRay and UNAUTHENTICATED to
// ErrUnauthenticated, and removes the token from the message. The gRPC
// status stays reachable through errors.As and status.Code.
func wrapRPCError(addr, rpc, token string, err error) error {
	err = redactError(err, token)
	switch status.Code(err) {
	case codes.Unimplemented:
		return fmt.Errorf("gcs %s: %s: %w: %w", addr, rpc, ErrUnsupportedRay, err)
	case codes.Unauthenticated:
		return fmt.Errorf("gcs %s: %s: %w: %w", addr, rpc, ErrUnauthenticated, err)
	default:
		return fmt.Errorf("gcs %s: %s: %w", addr, rpc, err)
	}
}

// redactError returns err with every occurrence of token replaced, keeping
// the gRPC code. It returns err unchanged when the token does not appear.
func redactError(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	if st, ok := status.FromError(err); ok {
		return status.Error(st.Code(), strings.ReplaceAll(st.Message(), token, redacted))
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, redacted))
}
