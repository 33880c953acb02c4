// Package nodeinfopb holds the Go code generated from
// scaler/gcs/proto/node_info.proto: the two calls of Ray's
// ray.rpc.NodeInfoGcsService the scaler makes (CheckAlive for the GCS's Ray
// version, DrainNode to stop Ray on a node).
//
// Do not edit the *.pb.go files; regenerate them with hack/gen-proto.sh.
package nodeinfopb
