package gcs

import (
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrCredential means the scaler had no credential to send (a token source
// failed), so the call was not made: a failure of the whole cluster's
// connection, not of the node the call was about.
var ErrCredential = errors.New("no credential for the GCS")

// IsConnectionError reports whether err means the GCS itself could not be
// reached (gRPC UNAVAILABLE: connection refused or lost, the GCS
// restarting) or could not be asked (ErrCredential), as opposed to a
// failure of one call about one node. The GCS
// answers a DrainNode whose raylet failed with that raylet's status, which
// Ray's status mapping turns into ABORTED or UNKNOWN
// (src/ray/common/grpc_util.h), and a raylet that answers too late gives
// DEADLINE_EXCEEDED: none of these say the GCS is down.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrCredential) {
		return true
	}
	st, ok := status.FromError(err)
	if !ok {
		// Wrapped errors keep the status reachable through errors.As.
		st = status.Convert(err)
	}
	return st.Code() == codes.Unavailable
}
