package livecluster

import (
	"fmt"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler"
)

// Refusals say why the scaler leaves the cluster alone now, in the order
// its round checks them (scaler/controller.go Reconcile): not handed to it,
// being deleted, suspended, KubeRay's in-tree autoscaler possibly writing
// the replicas. None: the scaler acts on the cluster. The Ray version,
// which the scaler checks next, is the GCS's to say (GCSState.Compat).
func (c Cluster) Refusals() []string {
	rc := c.RayCluster
	var why []string
	if mode := rc.Annotations[defaults.AnnotationAutoscaling]; mode != defaults.AutoscalingCentral {
		got := "it has no annotation " + defaults.AnnotationAutoscaling
		if mode != "" {
			got = fmt.Sprintf("its annotation %s is %q", defaults.AnnotationAutoscaling, mode)
		}
		why = append(why, fmt.Sprintf("%s; the scaler scales only RayClusters annotated %s: %s",
			got, defaults.AnnotationAutoscaling, defaults.AutoscalingCentral))
	}
	if rc.DeletionTimestamp != nil {
		why = append(why, "the RayCluster is being deleted")
	}
	if rc.Spec.Suspend != nil && *rc.Spec.Suspend {
		why = append(why, "spec.suspend is true: the scaler decides nothing for a suspended cluster")
	}
	if _, inTree := scaler.InTreeAutoscaler(rc, c.Pods); inTree != "" {
		why = append(why, inTree)
	}
	return why
}
