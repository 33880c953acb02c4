package raysim

// How a raylet answers a drain, and how a drained raylet ends. From Ray:
//   - src/ray/raylet/node_manager.cc, NodeManager::HandleDrainRaylet (commit
//     a3d430a66d7b75bd1433f41f47b07715e7d3fb83): IDLE_TERMINATION is accepted
//     only while the node is idle, else rejected with "The node to be idle
//     terminated is no longer idle."; any other reason must be PREEMPTION
//     (RAY_CHECK_EQ), which is always accepted. An UNSPECIFIED reason
//     therefore aborts the raylet.
//   - src/ray/raylet/scheduling/local_resource_manager.cc,
//     LocalResourceManager::OnResourceOrStateChanged: once draining and idle
//     the raylet shuts itself down gracefully (death reason
//     AUTOSCALER_DRAIN_IDLE or AUTOSCALER_DRAIN_PREEMPTED). A draining node
//     takes no new work.
//   - On acceptance Ray's raylet cancels the leases queued on it and queues
//     them again cluster-wide (src/ray/raylet/tests/node_manager_test.cc,
//     TestReschedulingLeasesDuringHandleDrainRaylet, commit
//     cdd0dcb2bdb86c723066b84e86a793bb0a067d11); running work continues.
//     raysim places work only when it runs, so no lease is ever queued on a
//     node: what runs keeps running, what waits never goes to the draining
//     node.
//   - src/ray/protobuf/autoscaler.proto, DrainNodeRequest: the deadline is
//     "when the node to be drained will be force killed". raysim plays that
//     killer: at the deadline a still-busy node dies and its work is
//     rescheduled.

import (
	"time"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// drainState is the drain a raylet accepted.
type drainState struct {
	reason   rpcpb.DrainNodeReason
	message  string
	deadline time.Time // zero: none
	accepted time.Time // the first acceptance
}

// drainOutcome is how the raylet answered DrainRaylet.
type drainOutcome struct {
	accepted  bool
	rejection string
	// crashed: the raylet aborted on the request (RAY_CHECK) and its
	// connection broke instead of a reply.
	crashed bool
}

// Death reasons raysim records for a node (Ray's NodeDeathInfo reasons,
// src/ray/protobuf/gcs.proto, in words).
const (
	diedDrainedIdle      = "drained (AUTOSCALER_DRAIN_IDLE): idle and draining, the raylet exited"
	diedDrainedPreempted = "drained (AUTOSCALER_DRAIN_PREEMPTED): idle and draining, the raylet exited"
	diedAtDeadline       = "killed at the drain deadline (AUTOSCALER_DRAIN_PREEMPTED)"
	diedStopped          = "stopped by NodeInfoGcsService.DrainNode (EXPECTED_TERMINATION: Terminated by autoscaler.)"
	diedCrashed          = "the raylet aborted: DrainRaylet with a reason other than IDLE_TERMINATION or PREEMPTION fails RAY_CHECK_EQ"
)

// drainRaylet answers DrainRaylet as n's raylet would; c.mu held.
func (c *cluster) drainRaylet(n *node, req *rpcpb.DrainNodeRequest, now time.Time) drainOutcome {
	switch req.GetReason() {
	case rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION:
		if !n.idle() {
			return drainOutcome{rejection: "The node to be idle terminated is no longer idle."}
		}
	case rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION:
	default:
		c.kill(n, now, diedCrashed)
		return drainOutcome{crashed: true}
	}
	d := &drainState{reason: req.GetReason(), message: req.GetReasonMessage(), accepted: now}
	if ms := req.GetDeadlineTimestampMs(); ms > 0 {
		d.deadline = time.UnixMilli(ms)
	}
	if n.drain != nil {
		// A later request replaces the drain request (Ray overwrites it in
		// the raylet and in GcsNodeManager::SetNodeDraining); raysim keeps
		// the first acceptance time so a retried drain does not hold the
		// node longer.
		d.accepted = n.drain.accepted
	}
	n.drain = d
	return drainOutcome{accepted: true}
}

// finishDrains ends the raylets that a drain let go: idle ones once the
// drain window passed, any at their deadline; c.mu held.
func (c *cluster) finishDrains(now time.Time) {
	for _, n := range c.liveNodes() {
		d := n.drain
		switch {
		case d == nil:
		case !d.deadline.IsZero() && !now.Before(d.deadline):
			c.kill(n, now, diedAtDeadline)
		case n.idle() && !now.Before(d.accepted.Add(c.settings.DrainWindow)):
			why := diedDrainedIdle
			if d.reason == rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION {
				why = diedDrainedPreempted
			}
			c.kill(n, now, why)
		}
	}
}

// preemptActors marks every actor on n preempted, as the GCS does before it
// forwards any drain to a live node (GcsActorManager::SetPreemptedAndPublish,
// called by GcsAutoscalerStateManager::HandleDrainNode,
// src/ray/gcs/gcs_autoscaler_state_manager.cc, commit
// 001cd27f97c6fa536214d51670940ff2399745e5); c.mu held.
func (c *cluster) preemptActors(n *node) {
	for _, it := range c.items {
		if it.kind == kindActor && it.onNode(n) {
			it.preempted = true
		}
	}
}
