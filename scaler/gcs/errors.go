package gcs

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnsupportedRay means the GCS answered UNIMPLEMENTED: it does not serve
// the autoscaler API, which Ray added in a compatible form in 2.7.
var ErrUnsupportedRay = errors.New("Ray older than 2.7 is not supported: " +
	"the GCS does not serve ray.rpc.autoscaler.AutoscalerStateService")

// ErrUnauthenticated means the GCS answered UNAUTHENTICATED: the cluster
// runs with Ray token authentication and the token was missing or wrong.
var ErrUnauthenticated = errors.New("the Ray cluster requires Ray's auth token " +
	"(RAY_AUTH_MODE=token, Ray 2.52 and later) and the GCS rejected the request: " +
	"raypilot reads the token from the Secret that KubeRay creates for the RayCluster's " +
	"spec.authOptions (key " + AuthTokenSecretKey + "); check that the Secret exists and is current")

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
