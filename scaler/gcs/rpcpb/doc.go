// Package rpcpb holds the Go code generated from scaler/gcs/proto: the
// messages of Ray's proto packages ray.rpc.autoscaler and ray.rpc (only the
// label-selector types of the latter) and the gRPC client and server for
// ray.rpc.autoscaler.AutoscalerStateService, which a Ray GCS serves.
//
// Do not edit the *.pb.go files; regenerate them with hack/gen-proto.sh.
package rpcpb
