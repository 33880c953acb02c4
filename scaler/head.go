package scaler

import corev1 "k8s.io/api/core/v1"

// RunningHead returns the head pod among a cluster's pods whose GCS a round
// reads: running and not being deleted. nil when there is none; the scaler
// then waits, as Ray's autoscaler waits for its head.
func RunningHead(pods []corev1.Pod) *corev1.Pod {
	for i := range pods {
		p := &pods[i]
		if p.Labels[LabelNodeType] == "head" && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			return p
		}
	}
	return nil
}
