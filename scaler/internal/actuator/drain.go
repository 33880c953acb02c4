package actuator

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Drainer stops Ray on the nodes of one cluster: the cluster's GCS client.
type Drainer interface {
	// DrainNode is AutoscalerStateService.DrainNode.
	DrainNode(ctx context.Context, nodeID []byte, reason rpcpb.DrainNodeReason, message string, deadline time.Time) (accepted bool, rejection string, err error)
	// StopNode is NodeInfoGcsService.DrainNode: Ray stops on the node
	// whatever runs there.
	StopNode(ctx context.Context, nodeID []byte) (acknowledged bool, err error)
}

// Failure is a termination whose drain call failed. Its pod stays and keeps
// its replica; the caller retries it later.
type Failure struct {
	engine.Termination
	// Err is the call's error. gcs.IsConnectionError tells a GCS that could
	// not be reached from a failure of this one node.
	Err error
}

// maxConcurrentDrains bounds the drain calls in flight for one cluster, so
// that one slow raylet holds the round for one drain deadline, not one per
// node, while a scale-down of hundreds of nodes does not open hundreds of
// streams at once.
const maxConcurrentDrains = 8

// stopOutcome is what one node's drain call returned.
type stopOutcome struct {
	done      bool
	rejection string
	err       error
}

// stopRay stops Ray on t's node the way Ray's v2 autoscaler does for t's
// cause (RayStopper._stop_or_drain_ray in
// python/ray/autoscaler/v2/instance_manager/subscribers/ray_stopper.py): an
// idle node is drained with DRAIN_NODE_REASON_IDLE_TERMINATION, which its
// raylet rejects once it is busy again, and no deadline; a node terminated
// for any other cause is stopped through NodeInfoGcsService.DrainNode.
// DRAIN_NODE_REASON_PREEMPTION is never sent: Ray's autoscaler never sends
// it, and the GCS marks every actor of a preempted node preempted.
func stopRay(ctx context.Context, d Drainer, t engine.Termination, id []byte) stopOutcome {
	if t.Cause == engine.CauseIdle {
		msg := fmt.Sprintf("raypilot: termination of node that's idle for %.1f seconds (pod %s)", t.Idle.Seconds(), t.Pod)
		ok, why, err := d.DrainNode(ctx, id, rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, msg, time.Time{})
		return stopOutcome{done: ok, rejection: why, err: err}
	}
	ok, err := d.StopNode(ctx, id)
	out := stopOutcome{done: ok, err: err}
	if !ok && err == nil {
		out.rejection = "the GCS did not acknowledge the node"
	}
	return out
}

// drainJob is one node to stop before its pod is listed.
type drainJob struct {
	t  engine.Termination
	id []byte
}

// stopAll runs the jobs with at most maxConcurrentDrains in flight and
// returns their outcomes in job order. Once a call finds the GCS
// unreachable, the jobs not yet started fail with the same error instead of
// each waiting for its own.
func stopAll(ctx context.Context, d Drainer, jobs []drainJob) []stopOutcome {
	out := make([]stopOutcome, len(jobs))
	var unreachable atomic.Pointer[error]
	sem := make(chan struct{}, maxConcurrentDrains)
	var wg sync.WaitGroup
	for i, j := range jobs {
		sem <- struct{}{}
		if errp := unreachable.Load(); errp != nil {
			<-sem
			out[i] = stopOutcome{err: *errp}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			o := stopRay(ctx, d, j.t, j.id)
			if o.err != nil {
				o.err = fmt.Errorf("drain node %s of pod %s: %w", j.t.NodeID, j.t.Pod, o.err)
				if gcs.IsConnectionError(o.err) {
					unreachable.CompareAndSwap(nil, &o.err)
				}
			}
			out[i] = o
		}()
	}
	wg.Wait()
	return out
}
