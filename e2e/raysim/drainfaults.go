package raysim

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Drain fault modes: how AutoscalerStateService.DrainNode fails for a node
// whose raylet the GCS cannot get an answer from. The GCS forwards the
// raylet call's status as its own (GcsAutoscalerStateManager::HandleDrainNode),
// after it already marked the node's actors preempted. The legacy
// NodeInfoGcsService.DrainNode is not affected: the GCS acknowledges it
// without waiting for the raylet (GcsNodeManager::HandleDrainNode).
const (
	// DrainFaultAborted fails with ABORTED "RpcError": Ray's mapping of a
	// failed raylet call (RayStatusToGrpcStatus, src/ray/common/grpc_util.h).
	DrainFaultAborted = "aborted"
	// DrainFaultUnknown fails with UNKNOWN, as a GCS whose status mapping
	// used UNKNOWN for every Ray error answers the same failure.
	DrainFaultUnknown = "unknown"
	// DrainFaultDeadline answers nothing until the caller's deadline passes
	// (DEADLINE_EXCEEDED): the GCS sets no timeout of its own on the
	// raylet call.
	DrainFaultDeadline = "deadline"
)

// maxFaultWait bounds how long a DrainFaultDeadline call waits when the
// caller set no deadline.
const maxFaultWait = 10 * time.Minute

// drainFault makes DrainNode fail for one node.
type drainFault struct {
	Pod  string `json:"pod"`
	Mode string `json:"mode"`
	// Times is how many calls fail; 0 fails every call until cleared.
	Times int `json:"times"`
	// Remaining is how many failures are left when Times > 0.
	Remaining int `json:"remaining"`
	// ApplyLate, with DrainFaultDeadline: the raylet still gets the drain and
	// answers after the caller gave up, so the drain takes effect unseen.
	ApplyLate bool `json:"applyLate,omitempty"`
	// Failed counts the calls the fault failed.
	Failed int `json:"failedCalls"`
}

func (f *drainFault) active() bool { return f.Times == 0 || f.Remaining > 0 }

// takeDrainFault returns the fault to apply to a DrainNode for pod, if any,
// and counts it; c.mu held.
func (c *cluster) takeDrainFault(pod string) *drainFault {
	f := c.drainFaults[pod]
	if f == nil || !f.active() {
		return nil
	}
	f.Failed++
	if f.Times > 0 {
		f.Remaining--
	}
	out := *f
	return &out
}

// failDrain makes the call fail as fault says. With ApplyLate the drain is
// applied once the caller is gone.
func (c *cluster) failDrain(ctx context.Context, f *drainFault, apply func()) error {
	switch f.Mode {
	case DrainFaultAborted:
		return rayStatusError(ctx, rayRPCError, rpcErrorMessage("Socket closed"))
	case DrainFaultUnknown:
		return status.Error(codes.Unknown, rpcErrorMessage("Socket closed"))
	default:
		timer := time.NewTimer(maxFaultWait)
		defer timer.Stop()
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		if f.ApplyLate {
			apply()
		}
		if ctx.Err() != nil {
			// The client's deadline may reach the server as a cancellation
			// (the client resets the stream first): report what the
			// caller saw.
			if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
				return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
			}
			return status.FromContextError(ctx.Err()).Err()
		}
		return status.Error(codes.DeadlineExceeded, fmt.Sprintf("raysim drain fault: no answer within %s", maxFaultWait))
	}
}

// setDrainFault installs f, replacing the fault of the same pod.
func (c *cluster) setDrainFault(f *drainFault) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.drainFaults[f.Pod]; !ok && len(c.drainFaults) >= maxDrainFaults {
		return fmt.Errorf("a cluster has at most %d drain faults", maxDrainFaults)
	}
	f.Remaining = f.Times
	c.drainFaults[f.Pod] = f
	return nil
}
