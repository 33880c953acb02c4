package engine

import (
	"fmt"
	"math"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
)

// HeadGroupName is the node type name of the head on KubeRay.
const HeadGroupName = "headgroup"

// NodeTypesFromRayCluster derives the Cluster the way Ray's KubeRay config
// reader (autoscaling_config.py) derives its autoscaling config from the same
// RayCluster, so that the engine sees exactly the node types Ray's own
// autoscaler would:
//
//   - one group per workerGroupSpecs entry, in order, with min/max workers =
//     minReplicas/maxReplicas × numOfHosts (absent: 0 and 2147483647, the CRD
//     defaults) and the group's idleTimeoutSeconds;
//   - resources per group as rayResources describes (an error when the CPU
//     count cannot be found, for the head group too, as in Ray);
//   - the group's Ray node labels: its labels field, else rayStartParams'
//     labels (groupLabels);
//   - idle timeout from autoscalerOptions.idleTimeoutSeconds, else
//     DefaultIdleTimeout; upscaling speed from autoscalerOptions.upscalingMode.
//
// Replicas is spec replicas, or minReplicas when absent (KubeRay's reading).
// MaxWorkers and the other raypilot knobs are left for the caller.
func NodeTypesFromRayCluster(rc *rayv1.RayCluster) (Cluster, error) {
	if rc == nil {
		return Cluster{}, fmt.Errorf("no RayCluster")
	}
	spec := &rc.Spec
	c := Cluster{IdleTimeout: DefaultIdleTimeout, UpscalingSpeed: DefaultUpscalingSpeed}
	if o := spec.AutoscalerOptions; o != nil {
		if o.IdleTimeoutSeconds != nil {
			c.IdleTimeout = seconds(*o.IdleTimeoutSeconds)
		}
		if o.UpscalingMode != nil {
			c.UpscalingSpeed = UpscalingSpeedFor(string(*o.UpscalingMode))
		}
	}
	h := &spec.HeadGroupSpec
	// Ray derives the head's node type too and fails the whole config when it
	// cannot; the engine does not need the head's resources (the GCS reports
	// them) but keeps the failure, so both autoscalers accept the same CRs.
	if _, err := rayResources(HeadGroupName, h.RayStartParams, h.Resources, &h.Template.Spec); err != nil {
		return Cluster{}, err
	}
	for i := range spec.WorkerGroupSpecs {
		w := &spec.WorkerGroupSpecs[i]
		res, err := rayResources(w.GroupName, w.RayStartParams, w.Resources, &w.Template.Spec)
		if err != nil {
			return Cluster{}, err
		}
		g := Group{
			Name:        w.GroupName,
			Resources:   res,
			Labels:      groupLabels(w.Labels, w.RayStartParams),
			MinReplicas: int32Or(w.MinReplicas, 0),
			MaxReplicas: int32Or(w.MaxReplicas, math.MaxInt32),
			NumOfHosts:  max(int(w.NumOfHosts), 1),
		}
		g.Replicas = int32Or(w.Replicas, g.MinReplicas)
		if w.IdleTimeoutSeconds != nil {
			t := seconds(*w.IdleTimeoutSeconds)
			g.IdleTimeout = &t
		}
		c.Groups = append(c.Groups, g)
	}
	return c, nil
}

func int32Or(p *int32, def int) int {
	if p == nil {
		return def
	}
	return int(*p)
}

// seconds converts a CR seconds field; negative values mean zero.
func seconds(s int32) time.Duration {
	return time.Duration(max(s, 0)) * time.Second
}
