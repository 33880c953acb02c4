package raysim

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// Ray status codes as Status::CodeAsString names them (src/ray/common/status.cc).
const (
	rayInvalid  = "Invalid"
	rayRPCError = "RpcError"
)

// rayStatusError is how a GCS handler's non-OK ray::Status reaches a gRPC
// client: RayStatusToGrpcStatus (src/ray/common/grpc_util.h, commit
// 00501e2bd10f17c70dc12cdf54a203cf2db02a09) sends ABORTED with the Ray code
// name ("Invalid") as the message and the Ray message as the error details,
// which C++ gRPC puts raw into the grpc-status-details-bin trailer. raysim
// sends the same trailer; a Go client, which expects a google.rpc.Status
// there, ignores details it cannot parse and sees ABORTED "Invalid".
func rayStatusError(ctx context.Context, code, message string) error {
	_ = grpc.SetTrailer(ctx, metadata.Pairs("grpc-status-details-bin", message))
	return status.Error(codes.Aborted, code)
}

// rpcErrorMessage is the message of the ray::Status a GCS builds from a
// failed call to a raylet (GrpcStatusToRayStatus, grpc_util.h).
func rpcErrorMessage(grpcMessage string) string {
	return "RPC Error message: " + grpcMessage + "; RPC Error details: "
}
