// Package gcsfake holds the pieces of a fake Ray GCS that the scaler's
// tests, bench/scalercap and e2e/raysim share: serving on a loopback
// address (serve.go), telling the cluster a call is for by its :authority
// (authority.go), and services that answer what a test sets. The full
// simulator, which follows Ray's behaviour closely, is e2e/raysim.
package gcsfake

import (
	"context"
	"sync"

	"google.golang.org/grpc"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// DefaultRayVersion is the Ray version NodeInfo reports when Version is
// empty: a release the scaler supports fully.
const DefaultRayVersion = "2.52.0"

// NodeInfo serves the two NodeInfoGcsService calls the scaler makes:
// CheckAlive answers Version, DrainNode (stop Ray) acknowledges every node,
// as GcsNodeManager::HandleDrainNode does, and records it.
type NodeInfo struct {
	nodeinfopb.UnimplementedNodeInfoGcsServiceServer
	// Version is the Ray version CheckAlive reports; empty means
	// DefaultRayVersion. Set it before serving; SetVersion afterwards.
	Version string

	mu      sync.Mutex
	stopped [][]byte
}

// SetVersion changes the Ray version CheckAlive reports (a new GCS build
// behind the same address).
func (n *NodeInfo) SetVersion(v string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.Version = v
}

// Register serves n on srv.
func (n *NodeInfo) Register(srv *grpc.Server) { nodeinfopb.RegisterNodeInfoGcsServiceServer(srv, n) }

// CheckAlive implements NodeInfoGcsServiceServer.
func (n *NodeInfo) CheckAlive(context.Context, *nodeinfopb.CheckAliveRequest) (*nodeinfopb.CheckAliveReply, error) {
	n.mu.Lock()
	v := n.Version
	n.mu.Unlock()
	if v == "" {
		v = DefaultRayVersion
	}
	return &nodeinfopb.CheckAliveReply{Status: &nodeinfopb.GcsStatus{}, RayVersion: v}, nil
}

// DrainNode implements NodeInfoGcsServiceServer.
func (n *NodeInfo) DrainNode(_ context.Context, req *nodeinfopb.DrainNodeRequest) (*nodeinfopb.DrainNodeReply, error) {
	reply := &nodeinfopb.DrainNodeReply{Status: &nodeinfopb.GcsStatus{}}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, d := range req.GetDrainNodeData() {
		n.stopped = append(n.stopped, d.GetNodeId())
		reply.DrainNodeStatus = append(reply.DrainNodeStatus, &nodeinfopb.DrainNodeStatus{NodeId: d.GetNodeId()})
	}
	return reply, nil
}

// Stopped returns the node ids DrainNode was asked to stop, in order.
func (n *NodeInfo) Stopped() [][]byte {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([][]byte(nil), n.stopped...)
}
