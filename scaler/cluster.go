package scaler

import (
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
)

// MaxConcurrentLaunches bounds the workers asked for but not yet created.
// Ray's default (10) protects cloud APIs; here a launch is a replicas patch
// that KubeRay turns into pods, so a burst is answered in one decision and
// only the upscaling speed (Conservative: 1) paces it.
const MaxConcurrentLaunches = 1000

// ClusterFor is the engine's view of rc under policy: node types as Ray's
// KubeRay config reader derives them, the policy's worker cap, and the
// launch settings of raypilot (no replacement of slow pods: that is the
// cluster autoscaler's business).
func ClusterFor(rc *rayv1.RayCluster, policy *defaults.Policy) (engine.Cluster, error) {
	c, err := engine.NodeTypesFromRayCluster(rc)
	if err != nil {
		return c, err
	}
	if policy != nil {
		c.MaxWorkers = int(policy.Limits.MaxWorkersPerCluster)
	}
	c.AllocateTimeout = -1
	c.MaxConcurrentLaunches = MaxConcurrentLaunches
	return c, nil
}
