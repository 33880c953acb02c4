package raysim

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// nodeInfoService is the part of ray.rpc.NodeInfoGcsService the scaler
// calls, as GcsNodeManager (src/ray/gcs/gcs_node_manager.cc, commit
// 008ac694a501c85f280abe3dc421ba77ff467f33) answers it. Its replies embed a
// GcsStatus (code 0: OK).
type nodeInfoService struct {
	nodeinfopb.UnimplementedNodeInfoGcsServiceServer
	sim *Sim
}

// CheckAlive reports the Ray version the GCS was built as (kRayVersion):
// the head image's release, unless a test set another ("2.52.0" when the
// image names none).
func (s *nodeInfoService) CheckAlive(ctx context.Context, _ *nodeinfopb.CheckAliveRequest) (*nodeinfopb.CheckAliveReply, error) {
	c, err := s.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.settings.versionSet && c.headUID == "" {
		// The version comes from the head pod's image; raysim has not seen
		// the head yet (its watch lags), so there is no GCS to answer.
		return nil, status.Errorf(codes.Unavailable, "no GCS for %s/%s yet: its head pod is not running", c.namespace, c.name)
	}
	return &nodeinfopb.CheckAliveReply{Status: &nodeinfopb.GcsStatus{}, RayVersion: c.settings.RayVersion}, nil
}

// DrainNode is GcsNodeManager::HandleDrainNode: for every listed node that
// is alive the GCS asks its raylet to shut down gracefully (ShutdownRaylet,
// graceful), whatever runs there; the raylet exits, its node is DEAD and
// its work is rescheduled. Every listed node is acknowledged, alive or not.
func (s *nodeInfoService) DrainNode(ctx context.Context, req *nodeinfopb.DrainNodeRequest) (*nodeinfopb.DrainNodeReply, error) {
	c, err := s.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	now := s.sim.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(now)
	reply := &nodeinfopb.DrainNodeReply{Status: &nodeinfopb.GcsStatus{}}
	for _, d := range req.GetDrainNodeData() {
		id := d.GetNodeId()
		rec := drainCall{Time: now, RPC: rpcNodeInfoDrain, NodeID: hexID(id), NodeKnown: c.knownAs(id),
			Result: drainAcknowledged, Code: codes.OK.String()}
		if n := c.nodeByID(id); n != nil {
			rec.Pod = n.pod
			c.kill(n, now, diedStopped)
		} else {
			rec.Pod = c.deadPod(id)
		}
		c.recordDrain(rec)
		reply.DrainNodeStatus = append(reply.DrainNodeStatus, &nodeinfopb.DrainNodeStatus{NodeId: id})
	}
	c.placePending(now)
	return reply, nil
}
