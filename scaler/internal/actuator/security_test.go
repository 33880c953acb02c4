package actuator_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// writtenLists returns the workersToDelete lists a patch writes, by group
// index.
func writtenLists(t *testing.T, data []byte) map[int][]string {
	t.Helper()
	var ops []struct {
		Op    string          `json:"op"`
		Path  string          `json:"path"`
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(data, &ops); err != nil {
		t.Fatal(err)
	}
	out := map[int][]string{}
	for _, o := range ops {
		var i int
		if _, err := fmt.Sscanf(o.Path, "/spec/workerGroupSpecs/%d/", &i); err == nil && strings.HasSuffix(o.Path, "/scaleStrategy") && o.Op != "test" {
			var ss struct {
				WorkersToDelete []string `json:"workersToDelete"`
			}
			if err := json.Unmarshal(o.Value, &ss); err != nil {
				t.Fatal(err)
			}
			out[i] = ss.WorkersToDelete
		}
	}
	return out
}

// TestWorkersToDeleteNeverNamesAForeignPod: whatever a user writes into
// scaleStrategy.workersToDelete, and whatever terminations reach the
// actuator, the list the scaler writes names only pods of this cluster's
// namespace carrying this cluster's ray.io/cluster label and that group's
// ray.io/group label. KubeRay deletes every name in the list by name, in
// the namespace, without any check (ray-operator v1.5.0
// raycluster_controller.go reconcilePods), so a foreign name written by the
// scaler would be a pod deleted with the operator's rights.
func TestWorkersToDeleteNeverNamesAForeignPod(t *testing.T) {
	head := workerPod("rc-head", rcName, "headgroup")
	head.Labels["ray.io/node-type"] = "head"
	all := []corev1.Pod{
		workerPod("wg-1", rcName, "wg"),
		workerPod("wg-2", rcName, "wg"),
		workerPod("gpu-1", rcName, "gpu"),
		workerPod("other-1", "other", "wg"),                         // another cluster's worker, same group name
		inNamespace(workerPod("elsewhere-1", rcName, "wg"), "prod"), // same labels, another namespace
		workerPod("bare-1", "", ""),                                 // no Ray labels
		head,
	}
	hostile := []string{"other-1", "elsewhere-1", "bare-1", "gpu-1", "rc-head", "kube-apiserver", "", "../prod/wg-1", "wg-1 ", "WG-1", "ghost"}
	cases := []struct {
		name string
		plan engine.Plan
	}{
		{"user list only", engine.Plan{Replicas: map[string]int{"wg": 2, "gpu": 1}}},
		{"with a legitimate removal", engine.Plan{Replicas: map[string]int{"wg": 1, "gpu": 1}, Terminate: []engine.Termination{idle("wg-2", "0a")}}},
		{"with hostile terminations", engine.Plan{Replicas: map[string]int{"wg": 0, "gpu": 0}, Terminate: []engine.Termination{
			{Pod: "other-1", Group: "wg", NodeID: "0b", Cause: engine.CauseIdle, Drain: true},
			{Pod: "elsewhere-1", Group: "wg", NodeID: "0c", Cause: engine.CauseIdle, Drain: true},
			{Pod: "gpu-1", Group: "wg", NodeID: "0d", Cause: engine.CauseIdle},
			{Pod: "rc-head", Group: "wg", Cause: engine.CauseIdle},
			{Pod: "bare-1", Group: "", Cause: engine.CauseIdle},
			{Pod: "wg-1", Group: "gpu", Cause: engine.CauseIdle},
		}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rc := rayCluster(group("wg", 2, 0, 5, hostile...), group("gpu", 1, 0, 5, hostile...))
			ev := &events{}
			k := &fakePatcher{ev: ev}
			res, err := actuator.Apply(context.Background(), k, &fakeDrainer{ev: ev}, rc, all, c.plan, nil)
			if err != nil {
				t.Fatal(err)
			}
			sent := k.sent()
			if len(sent) != 1 {
				t.Fatalf("%d patches sent; the hostile lists must be rewritten", len(sent))
			}
			lists := writtenLists(t, sent[0].data)
			if len(lists) != 2 {
				t.Fatalf("lists written for groups %v, want both rewritten: %s", lists, sent[0].data)
			}
			want := map[int]map[string]bool{0: {"wg-1": true, "wg-2": true}, 1: {"gpu-1": true}}
			for i, list := range lists {
				for _, name := range list {
					if !want[i][name] {
						t.Errorf("group %s lists %q, not a verified pod of the group", rc.Spec.WorkerGroupSpecs[i].GroupName, name)
					}
				}
			}
			for _, r := range res.Removed {
				if r.Pod != "wg-2" {
					t.Errorf("removed %s", r.Pod)
				}
			}
		})
	}
}
