package scaler

import (
	"context"
	"errors"
	"strings"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs"
)

// versionRecheck is how long a connection's Ray version is trusted before
// it is asked again: the GCS behind a Service can be replaced by one of
// another Ray version (an upgraded head pod) without the connection
// noticing.
const versionRecheck = time.Minute

// checkRayVersion asks the GCS its Ray version (once per connection and
// versionRecheck, every round while refused) and reports whether the scaler may act on the cluster.
// A refused version gets one UnsupportedRay Event until it changes; the
// cluster is left alone: no patch, no drain, no report. An error means the
// GCS could not be asked.
func (r *Reconciler) checkRayVersion(ctx context.Context, rc *rayv1.RayCluster, mem *clusterMemory, c *conn, now time.Time, log *zap.Logger) (bool, error) {
	// A refused cluster is asked every round: that call is all the scaler
	// does for it, and an upgraded head is served at once.
	if c.compat == nil || !c.compat.Supported || now.Sub(c.checked) >= versionRecheck {
		version, err := c.RayVersion(ctx)
		switch {
		case errors.Is(err, gcs.ErrUnsupportedRay):
			version = "" // a GCS without CheckAlive predates every supported release
		case err != nil:
			return false, err
		}
		compat := gcs.CheckRayVersion(version)
		c.compat, c.checked = &compat, now
	}
	if !c.compat.Supported {
		key := c.compat.Version
		if key == "" {
			key = "unknown"
		}
		if mem.unsupported != key {
			mem.unsupported = key
			r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventUnsupportedRay, "Scale", "leaving the cluster alone: %s", c.compat.Reason)
			log.Warn("unsupported Ray; leaving the cluster alone", zap.String("rayVersion", c.compat.Version), zap.String("reason", c.compat.Reason))
		}
		return false, nil
	}
	if mem.unsupported != "" {
		mem.unsupported = ""
		r.Events.Eventf(rc, nil, corev1.EventTypeNormal, EventUnsupportedRay, "Scale", "Ray %s is supported; scaling resumed", c.compat.Version)
	}
	if limits := strings.Join(c.compat.Limits, " "); limits != mem.rayLimits {
		mem.rayLimits = limits
		if limits != "" {
			r.Events.Eventf(rc, nil, corev1.EventTypeNormal, EventRayVersionLimits, "Scale", "Ray %s works with limits: %s", c.compat.Version, limits)
			log.Info("Ray version works with limits", zap.String("rayVersion", c.compat.Version), zap.Strings("limits", c.compat.Limits))
		}
	}
	return true, nil
}
