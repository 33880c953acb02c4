package scaler

import (
	"context"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// drainFailures turns the round's failed drain calls into per-node retries
// and DrainFailed Events, and forgets the streaks of pods that are gone or
// were drained. It returns the first error that means the GCS itself could
// not be reached: those are not the node's fault and start no node backoff.
func (r *Reconciler) drainFailures(ctx context.Context, rc *rayv1.RayCluster, mem *clusterMemory, pods []corev1.Pod, res *actuator.Result, now time.Time, log *zap.Logger) error {
	exists := make(map[string]bool, len(pods))
	for i := range pods {
		exists[pods[i].Name] = true
	}
	for _, rm := range res.Removed {
		delete(mem.drains, rm.Pod)
	}
	mem.drains.forget(func(pod string) bool { return exists[pod] })
	var unreachable error
	if ctx.Err() != nil && len(res.Failed) > 0 {
		// Shutting down or no longer leading: the calls were cut short by
		// the scaler, not failed by Ray. Nothing to blame on the nodes.
		return nil
	}
	for _, f := range res.Failed {
		if gcs.IsConnectionError(f.Err) {
			if unreachable == nil {
				unreachable = f.Err // reported once, by gcsFailure
			}
			continue
		}
		wait := mem.drains.failed(f.Pod, now, r.Interval)
		r.metrics.decisions.WithLabelValues("drain_failed").Inc()
		r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventDrainFailed, "Drain",
			"could not drain Ray node %s of pod %s (%s): %v; the pod stays and is tried again in %s",
			short(f.NodeID), f.Pod, f.Cause, f.Err, wait.Round(time.Second))
		log.Warn("drain failed; retrying later", zap.String("pod", f.Pod), zap.String("node", f.NodeID),
			zap.Duration("retryIn", wait), zap.Error(f.Err))
	}
	return unreachable
}

// short is the first 8 hex digits of a Ray node id, as Ray's logs show it.
func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
