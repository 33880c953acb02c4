package scaler

import (
	"fmt"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AutoscalerContainerName is the container KubeRay adds to the head pod
// when enableInTreeAutoscaling is true (KubeRay's BuildAutoscalerContainer):
// Ray's autoscaler, which writes the same replicas and workersToDelete as
// the scaler.
const AutoscalerContainerName = "autoscaler"

// InTreeAutoscaler tells whether KubeRay's in-tree autoscaler may be
// writing rc's worker replicas, which makes the scaler leave rc alone: the
// spec still asks KubeRay for the sidecar, or a head pod of the cluster
// still runs it. KubeRay does not recreate a running head pod when
// enableInTreeAutoscaling turns false, so a cluster moved to the central
// scaler keeps its sidecar until the head pod is replaced. pods are the
// cluster's pods. why says so and how to fix it; key identifies the cause
// (the head pod's UID, so the scaler's Event is recorded once per head
// pod). Both are "" when the in-tree autoscaler cannot be running.
func InTreeAutoscaler(rc *rayv1.RayCluster, pods []corev1.Pod) (key, why string) {
	if e := rc.Spec.EnableInTreeAutoscaling; e != nil && *e {
		return "spec", "spec.enableInTreeAutoscaling is true, so KubeRay runs its in-tree autoscaler in the head pod; " +
			"set it to false (the webhook does when the annotation raypilot.io/autoscaling: central is set), " +
			"or set raypilot.io/autoscaling: disabled"
	}
	for i := range pods {
		p := &pods[i]
		if p.Labels[LabelNodeType] != "head" || p.Labels[LabelCluster] != rc.Name {
			continue
		}
		// A terminating head pod may still run its sidecar during its grace
		// period; only a pod whose containers ended is harmless.
		if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		if !hasContainer(p, AutoscalerContainerName) {
			continue
		}
		if p.DeletionTimestamp != nil {
			return string(p.UID), fmt.Sprintf("the head pod %s still runs KubeRay's in-tree autoscaler container %q while it terminates; "+
				"scaling starts once it is gone", p.Name, AutoscalerContainerName)
		}
		return string(p.UID), fmt.Sprintf("the head pod %s still runs KubeRay's in-tree autoscaler container %q; "+
			"delete the head pod so KubeRay recreates it without the sidecar, or set raypilot.io/autoscaling: disabled",
			p.Name, AutoscalerContainerName)
	}
	return "", ""
}

func hasContainer(p *corev1.Pod, name string) bool {
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range cs {
			if cs[i].Name == name {
				return true
			}
		}
	}
	return false
}

// refuseInTree reports whether rc must be left alone this round because
// KubeRay's in-tree autoscaler may write its replicas: no patch, no drain,
// no report to its GCS. The Warning Event and the log line come once per
// cause (per head pod), not every round.
func (r *Reconciler) refuseInTree(rc *rayv1.RayCluster, mem *clusterMemory, pods []corev1.Pod, log *zap.Logger) bool {
	key, why := InTreeAutoscaler(rc, pods)
	if key == "" {
		if mem.inTree != "" {
			mem.inTree = ""
			log.Info("KubeRay's in-tree autoscaler is gone; scaling")
		}
		return false
	}
	if key != mem.inTree {
		mem.inTree = key
		r.conns.drop(types.NamespacedName{Namespace: rc.Namespace, Name: rc.Name})
		r.Events.Eventf(rc, nil, corev1.EventTypeWarning, EventInTreeAutoscalerRunning, "Scale", "not scaling: %s", why)
		log.Warn("not scaling: KubeRay's in-tree autoscaler may write this cluster's replicas", zap.String("reason", why))
	}
	return true
}
