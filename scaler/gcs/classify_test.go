package gcs

import (
	"errors"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestIsConnectionError(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{status.Error(codes.Unavailable, "connection refused"), true},
		{fmt.Errorf("drain node of pod a: %w", wrapRPCError("gcs:6379", rpcDrainNode, "", status.Error(codes.Unavailable, "x"))), true},
		{status.Error(codes.Aborted, "raylet failed"), false},
		{status.Error(codes.Unknown, "raylet failed"), false},
		{status.Error(codes.DeadlineExceeded, "slow raylet"), false},
		{status.Error(codes.InvalidArgument, "negative deadline"), false},
		{errors.New("not a status"), false},
		{fmt.Errorf("drain node 0a of pod p: %w", fmt.Errorf("%w: TokenRequest forbidden", ErrCredential)), true},
	}
	for _, tc := range tests {
		if got := IsConnectionError(tc.err); got != tc.want {
			t.Errorf("IsConnectionError(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
