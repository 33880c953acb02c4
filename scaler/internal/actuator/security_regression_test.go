package actuator_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// Regression: the actuator's check that a pod belongs to a worker group compared
// only the ray.io/cluster and ray.io/group labels. KubeRay v1.5.0 labels the
// head pod ray.io/group=headgroup, and "headgroup" is a valid worker group
// name (a DNS-1123 label; neither the CRD nor the webhook forbids it). So
// for a worker group named headgroup the head pod passed the check: a name
// the user writes into that group's workersToDelete was kept and written back
// by the scaler, and KubeRay deleted the head pod by name. The check should
// also require ray.io/node-type=worker (as scaler.PodsFromKube does); it
// now does.
func TestRegressionHeadPodPassesWorkerGroupCheck(t *testing.T) {
	head := workerPod("rc-head", rcName, "headgroup")
	head.Labels["ray.io/node-type"] = "head"
	all := []corev1.Pod{head, workerPod("headgroup-1", rcName, "headgroup")}
	rc := rayCluster(group("headgroup", 1, 0, 5, "rc-head"))
	plan := engine.Plan{Replicas: map[string]int{"headgroup": 0}, Terminate: []engine.Termination{
		{Pod: "headgroup-1", Group: "headgroup", Cause: engine.CauseIdle},
		{Pod: "rc-head", Group: "headgroup", Cause: engine.CauseIdle},
	}}
	ev := &events{}
	k := &fakePatcher{ev: ev}
	res, err := actuator.Apply(context.Background(), k, &fakeDrainer{ev: ev}, rc, all, plan, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Removed {
		if r.Pod == "rc-head" {
			t.Errorf("the head pod was accepted as a removal of worker group headgroup")
		}
	}
	for _, p := range k.sent() {
		for _, list := range writtenLists(t, p.data) {
			for _, name := range list {
				if name == "rc-head" {
					t.Errorf("the scaler writes the head pod into workersToDelete: %s", p.data)
				}
			}
		}
	}
}
