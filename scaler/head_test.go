package scaler

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// RunningHead is the running head pod only: not a pending one, not one
// being deleted, never a worker.
func TestRunningHead(t *testing.T) {
	pod := func(name, nodeType string, phase corev1.PodPhase) corev1.Pod {
		return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{LabelCluster: "rc", LabelNodeType: nodeType}},
			Status: corev1.PodStatus{Phase: phase}}
	}
	deleting := pod("h-deleting", "head", corev1.PodRunning)
	deleting.DeletionTimestamp = &metav1.Time{}
	pods := []corev1.Pod{pod("h-pending", "head", corev1.PodPending), deleting, pod("w", "worker", corev1.PodRunning)}
	if h := RunningHead(pods); h != nil {
		t.Errorf("head %s, want none", h.Name)
	}
	pods = append(pods, pod("h-running", "head", corev1.PodRunning))
	if h := RunningHead(pods); h == nil || h.Name != "h-running" {
		t.Errorf("head %v, want h-running", h)
	}
}
