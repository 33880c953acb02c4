package gcs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// NodeIDSize is the length of a binary Ray NodeID (kUniqueIDSize in Ray's
// src/ray/common/constants.h).
const NodeIDSize = 28

// Names of the RPCs, used in errors.
const (
	rpcGetClusterResourceState = "GetClusterResourceState"
	rpcReportAutoscalingState  = "ReportAutoscalingState"
	rpcDrainNode               = "DrainNode"
)

// GetClusterResourceState returns the GCS's current view of nodes and
// demand. It always sends last_seen_cluster_resource_state_version = 0:
// the GCS aborts if that value exceeds its own in-memory counter, which
// restarts at 0 when the GCS restarts.
func (c *Client) GetClusterResourceState(ctx context.Context) (*rpcpb.ClusterResourceState, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	reply, err := c.rpc.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{
		LastSeenClusterResourceStateVersion: 0,
	})
	if err != nil {
		return nil, wrapRPCError(c.addr, rpcGetClusterResourceState, c.token, err)
	}
	state := reply.GetClusterResourceState()
	if state == nil {
		return nil, fmt.Errorf("gcs %s: %s: reply has no cluster_resource_state", c.addr, rpcGetClusterResourceState)
	}
	return state, nil
}

// Probe checks that the GCS serves a compatible autoscaler API by calling
// GetClusterResourceState once. It returns an error wrapping
// ErrUnsupportedRay when the GCS does not serve the service (Ray older
// than 2.7) and ErrUnauthenticated when the GCS requires a token that was
// not given or is wrong.
func (c *Client) Probe(ctx context.Context) error {
	_, err := c.GetClusterResourceState(ctx)
	return err
}

// ReportAutoscalingState reports the scaler's state to the GCS, which
// shows it in `ray status` and the dashboard. The GCS discards a report
// whose autoscaler_state_version is lower than the one it holds, so the
// version must keep increasing across scaler restarts (e.g. wall-clock ms).
func (c *Client) ReportAutoscalingState(ctx context.Context, state *rpcpb.AutoscalingState) error {
	if state == nil {
		return fmt.Errorf("gcs %s: %s: nil state", c.addr, rpcReportAutoscalingState)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	_, err := c.rpc.ReportAutoscalingState(ctx, &rpcpb.ReportAutoscalingStateRequest{AutoscalingState: state})
	if err != nil {
		return wrapRPCError(c.addr, rpcReportAutoscalingState, c.token, err)
	}
	return nil
}

// DrainNode asks the GCS to drain the node with the binary Ray NodeID
// nodeID (NodeIDSize bytes). reason must be
// DRAIN_NODE_REASON_IDLE_TERMINATION, which the node rejects once it is no
// longer idle; any other reason is refused without a call.
// message is a human-readable reason. deadline is when the node will be
// gone; the zero time means no deadline (GCS older than Ray 2.10 ignores
// it). The call is idempotent; an unknown or dead node is accepted.
// rejectionReason is set only when accepted is false (Ray 2.10 and later).
func (c *Client) DrainNode(ctx context.Context, nodeID []byte, reason rpcpb.DrainNodeReason,
	message string, deadline time.Time) (accepted bool, rejectionReason string, err error) {
	req, err := drainRequest(nodeID, reason, message, deadline)
	if err != nil {
		return false, "", fmt.Errorf("gcs %s: %s: %w", c.addr, rpcDrainNode, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.drainTimeout)
	defer cancel()
	reply, err := c.rpc.DrainNode(ctx, req)
	if err != nil {
		return false, "", wrapRPCError(c.addr, rpcDrainNode, c.token, err)
	}
	if reply.GetIsAccepted() {
		return true, "", nil
	}
	return false, bounded(reply.GetRejectionReasonMessage()), nil
}

// drainRequest validates DrainNode's arguments and builds the request.
func drainRequest(nodeID []byte, reason rpcpb.DrainNodeReason, message string,
	deadline time.Time) (*rpcpb.DrainNodeRequest, error) {
	if len(nodeID) != NodeIDSize {
		return nil, fmt.Errorf("node id has %d bytes, want %d", len(nodeID), NodeIDSize)
	}
	// Only idle termination: Ray's autoscaler never sends PREEMPTION, which
	// the raylet never rejects and which marks the node's actors preempted
	// (StopNode stops Ray for the other causes).
	if reason != rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION {
		return nil, fmt.Errorf("drain reason %s is not supported: the scaler drains only idle nodes (DRAIN_NODE_REASON_IDLE_TERMINATION)", reason)
	}
	var deadlineMS int64
	if !deadline.IsZero() {
		deadlineMS = deadline.UnixMilli()
		if deadlineMS <= 0 {
			return nil, errors.New("drain deadline is not after the Unix epoch")
		}
	}
	return &rpcpb.DrainNodeRequest{
		NodeId:              nodeID,
		Reason:              reason,
		ReasonMessage:       message,
		DeadlineTimestampMs: deadlineMS,
	}, nil
}
