package livecluster

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"

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
	if inTree := c.inTreeAutoscaler(); inTree != "" {
		why = append(why, inTree)
	}
	return why
}

// inTreeAutoscaler says why KubeRay's in-tree autoscaler may write the
// replicas, "" when it cannot: the rule of scaler/intree.go, which keeps
// it unexported (the spec asks KubeRay for the sidecar, or a head pod that
// has not ended still runs it).
func (c Cluster) inTreeAutoscaler() string {
	if e := c.RayCluster.Spec.EnableInTreeAutoscaling; e != nil && *e {
		return "spec.enableInTreeAutoscaling is true: KubeRay runs its in-tree autoscaler, and the scaler never scales beside it"
	}
	for i := range c.Pods {
		p := &c.Pods[i]
		if p.Labels[scaler.LabelNodeType] != "head" || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, ct := range append(append([]corev1.Container{}, p.Spec.Containers...), p.Spec.InitContainers...) {
			if ct.Name == scaler.AutoscalerContainerName {
				return fmt.Sprintf("the head pod %s runs KubeRay's in-tree autoscaler container %q: the scaler waits until a head pod without it replaces it",
					p.Name, scaler.AutoscalerContainerName)
			}
		}
	}
	return ""
}
