package raysim

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// gcsService is ray.rpc.autoscaler.AutoscalerStateService as
// GcsAutoscalerStateManager (src/ray/gcs/gcs_autoscaler_state_manager.cc,
// commit 001cd27f97c6fa536214d51670940ff2399745e5) answers it. Its handlers
// reply with plain gRPC status codes, not an embedded GcsStatus.
type gcsService struct {
	rpcpb.UnimplementedAutoscalerStateServiceServer
	sim *Sim
}

// GetClusterResourceState: the handler RAY_CHECKs that the caller's
// last_seen_cluster_resource_state_version does not exceed the GCS's own
// counter; a larger value aborts the GCS process. raysim fails the call with
// UNAVAILABLE (the connection dies with the process), restarts the
// cluster's GCS state (its counter back to 0) and counts the event.
func (g *gcsService) GetClusterResourceState(ctx context.Context, req *rpcpb.GetClusterResourceStateRequest) (*rpcpb.GetClusterResourceStateReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if seen := req.GetLastSeenClusterResourceStateVersion(); seen > c.stateVersion {
		c.stats.VersionCheckFailures++
		counter := c.stateVersion
		c.restartGCS()
		return nil, status.Errorf(codes.Unavailable, "raysim: the GCS aborted: RAY_CHECK failed: "+
			"last_seen_cluster_resource_state_version %d > last_cluster_resource_state_version %d; it restarted with its counter at 0",
			seen, counter)
	}
	return &rpcpb.GetClusterResourceStateReply{ClusterResourceState: c.makeState(g.sim.now())}, nil
}

func (g *gcsService) ReportAutoscalingState(ctx context.Context, req *rpcpb.ReportAutoscalingStateRequest) (*rpcpb.ReportAutoscalingStateReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := g.sim.now()
	c.advance(now)
	c.report(req.GetAutoscalingState(), now)
	return &rpcpb.ReportAutoscalingStateReply{}, nil
}

// RequestClusterResourceConstraint replaces the one stored constraint (no
// merge, in memory only).
func (g *gcsService) RequestClusterResourceConstraint(ctx context.Context, req *rpcpb.RequestClusterResourceConstraintRequest) (*rpcpb.RequestClusterResourceConstraintReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.constraint = &rpcpb.ClusterResourceConstraint{}
	if cc := req.GetClusterResourceConstraint(); cc != nil {
		c.constraint = proto.Clone(cc).(*rpcpb.ClusterResourceConstraint)
	}
	return &rpcpb.RequestClusterResourceConstraintReply{}, nil
}

// ReportClusterConfig stores the config (Ray keeps it in its internal KV).
func (g *gcsService) ReportClusterConfig(ctx context.Context, req *rpcpb.ReportClusterConfigRequest) (*rpcpb.ReportClusterConfigReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cfg := req.GetClusterConfig(); cfg != nil {
		c.config = proto.Clone(cfg).(*rpcpb.ClusterConfig)
	}
	return &rpcpb.ReportClusterConfigReply{}, nil
}

// GetClusterStatus builds a fresh state (incrementing the version, as
// GetClusterResourceState does) and adds the cached autoscaling state.
func (g *gcsService) GetClusterStatus(ctx context.Context, _ *rpcpb.GetClusterStatusRequest) (*rpcpb.GetClusterStatusReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	reply := &rpcpb.GetClusterStatusReply{ClusterResourceState: c.makeState(g.sim.now())}
	if c.reported != nil {
		reply.AutoscalingState = proto.Clone(c.reported).(*rpcpb.AutoscalingState)
	}
	return reply, nil
}

// DrainNode: a negative deadline is Invalid; a node the GCS does not know
// alive is accepted as drained; otherwise the GCS marks the node's actors
// preempted, forwards DrainRaylet to the raylet (drain.go) and returns its
// answer, or its failure as its own status (the drain faults).
func (g *gcsService) DrainNode(ctx context.Context, req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	c, err := g.sim.clusterOf(ctx)
	if err != nil {
		return nil, err
	}
	now := g.sim.now()
	rec := drainCall{Time: now, RPC: rpcAutoscalerDrain, NodeID: hexID(req.GetNodeId()), Reason: req.GetReason().String(),
		ReasonMessage: req.GetReasonMessage(), DeadlineTimestampMs: req.GetDeadlineTimestampMs()}
	c.mu.Lock()
	c.advance(now)
	if d := req.GetDeadlineTimestampMs(); d < 0 {
		msg := fmt.Sprintf("Draining deadline must be non-negative, received %d", d)
		rec.Result, rec.Code, rec.Message, rec.NodeKnown = drainFailed, codes.Aborted.String(), rayInvalid+": "+msg, c.knownAs(req.GetNodeId())
		c.recordDrain(rec)
		c.mu.Unlock()
		return nil, rayStatusError(ctx, rayInvalid, msg)
	}
	n := c.nodeByID(req.GetNodeId())
	if n == nil {
		rec.NodeKnown, rec.Pod = c.knownAs(req.GetNodeId()), c.deadPod(req.GetNodeId())
		rec.Result, rec.Code = drainAccepted, codes.OK.String()
		c.recordDrain(rec)
		c.mu.Unlock()
		return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
	}
	rec.NodeKnown, rec.Pod = "alive", n.pod
	c.preemptActors(n)
	if f := c.takeDrainFault(n.pod); f != nil {
		c.mu.Unlock()
		err := c.failDrain(ctx, f, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if n := c.nodeByID(req.GetNodeId()); n != nil {
				c.drainRaylet(n, req, g.sim.now())
			}
		})
		rec.Result, rec.Code, rec.Message, rec.Fault = drainFailed, status.Code(err).String(), status.Convert(err).Message(), f.Mode
		c.mu.Lock()
		c.recordDrain(rec)
		c.mu.Unlock()
		return nil, err
	}
	defer c.mu.Unlock()
	out := c.drainRaylet(n, req, now)
	switch {
	case out.crashed:
		msg := rpcErrorMessage("Socket closed")
		rec.Result, rec.Code, rec.Message = drainFailed, codes.Aborted.String(), rayRPCError+": "+msg
		c.recordDrain(rec)
		c.placePending(now)
		return nil, rayStatusError(ctx, rayRPCError, msg)
	case out.accepted:
		rec.Result, rec.Code = drainAccepted, codes.OK.String()
		c.recordDrain(rec)
		c.finishDrains(now)
		return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
	default:
		rec.Result, rec.Code, rec.Message = drainRejected, codes.OK.String(), out.rejection
		c.recordDrain(rec)
		return &rpcpb.DrainNodeReply{RejectionReasonMessage: out.rejection}, nil
	}
}

// knownAs says whether the GCS knows a node as alive, dead or not at all;
// c.mu held.
func (c *cluster) knownAs(id []byte) string {
	switch {
	case c.nodeByID(id) != nil:
		return "alive"
	case c.isDead(id):
		return "dead"
	default:
		return "unknown"
	}
}

// deadPod is the pod of a dead node, or ""; c.mu held.
func (c *cluster) deadPod(id []byte) string {
	for _, n := range c.dead {
		if string(n.id) == string(id) {
			return n.pod
		}
	}
	return ""
}
