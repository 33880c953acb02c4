package raysim

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// serveGRPC serves s on a free port and returns its address.
func serveGRPC(t *testing.T, s *Sim) string {
	t.Helper()
	srv := s.GRPCServer()
	addr, err := gcsfake.Serve(srv, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return addr
}

// gcsConn dials addr as a client of cluster ns/name would.
func gcsConn(t *testing.T, addr, ns, name string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithAuthority(gcsfake.Authority(ns, name)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// clients returns both GCS services of cluster ns/name over real gRPC.
func clients(t *testing.T, s *Sim, ns, name string) (rpcpb.AutoscalerStateServiceClient, nodeinfopb.NodeInfoGcsServiceClient) {
	t.Helper()
	conn := gcsConn(t, serveGRPC(t, s), ns, name)
	return rpcpb.NewAutoscalerStateServiceClient(conn), nodeinfopb.NewNodeInfoGcsServiceClient(conn)
}

// callCtx is the server-side context of a call to cluster ns/name, for
// calling the services directly.
func callCtx(ns, name string) context.Context {
	return metadata.NewIncomingContext(context.Background(), metadata.Pairs(":authority", gcsfake.Authority(ns, name)))
}

// drain sends AutoscalerStateService.DrainNode to cluster ns/name directly.
func drain(t *testing.T, s *Sim, ns, name string, req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	t.Helper()
	return (&gcsService{sim: s}).DrainNode(callCtx(ns, name), req)
}

func idleDrain(id []byte) *rpcpb.DrainNodeRequest {
	return &rpcpb.DrainNodeRequest{NodeId: id, Reason: rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, ReasonMessage: "idle"}
}

func preemptDrain(id []byte, deadline time.Time) *rpcpb.DrainNodeRequest {
	req := &rpcpb.DrainNodeRequest{NodeId: id, Reason: rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION, ReasonMessage: "preempted"}
	if !deadline.IsZero() {
		req.DeadlineTimestampMs = deadline.UnixMilli()
	}
	return req
}

// status of the node of pod name in the cluster's state at the clock's now.
func statusOf(s *Sim, ns, name, pod string) rpcpb.NodeStatus {
	if n := nodeByPod(s.cluster(ns, name).snapshot(s.now()), pod); n != nil {
		return n.Status
	}
	return rpcpb.NodeStatus_UNSPECIFIED
}

// withEnv adds environment variables to the Ray container of p.
func withEnv(p *corev1.Pod, env ...corev1.EnvVar) *corev1.Pod {
	p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, env...)
	return p
}
