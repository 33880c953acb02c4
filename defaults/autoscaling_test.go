package defaults_test

import (
	"fmt"
	"testing"

	"github.com/raypilot/raypilot/defaults"
)

// The autoscaling mode is decided at CREATE; an UPDATE keeps the stored
// object's mode whatever the policy says now. A centrally scaled object
// carries the mode as a label too, so that it can be selected on; the
// user's own labels stay.
func TestAutoscalingModeDecidedAtCreate(t *testing.T) {
	central, err := defaults.ParsePolicy([]byte("defaults:\n  autoscaling: {mode: central}\n"))
	if err != nil {
		t.Fatal(err)
	}
	const inTree = `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c, labels: {team: a}%s}
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: %s
  headGroupSpec: {template: {spec: {containers: [{name: ray-head, image: rayproject/ray:2.9.0}]}}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 5, replicas: %s, template: {spec: {containers: [{name: ray-worker, image: rayproject/ray:2.9.0}]}}}
`
	obj := func(annotation, enabled, replicas string) []byte {
		ann := ""
		if annotation != "" {
			ann = ", annotations: {raypilot.io/autoscaling: " + annotation + "}"
		}
		return yamlJSON(t, fmt.Sprintf(inTree, ann, enabled, replicas))
	}
	cases := []struct {
		name           string
		old, new       []byte
		op             defaults.Operation
		wantInTree     bool
		wantAnnotation string
	}{
		{"create in-tree under central is handed off", nil, obj("", "true", "1"), defaults.Create, false, "central"},
		{"update of an in-tree cluster created before raypilot: scale", obj("", "true", "1"), obj("", "true", "3"), defaults.Update, true, ""},
		{"update of an in-tree cluster created before raypilot: label", obj("", "true", "1"), obj("", "true", "1"), defaults.Update, true, ""},
		{"explicit move: the user sets the annotation on an update", obj("", "true", "1"), obj("central", "true", "1"), defaults.Update, false, "central"},
		{"a central cluster keeps its annotation when a replace drops it", obj("central", "false", "1"), obj("", "false", "2"), defaults.Update, false, "central"},
		{"a central cluster is not moved back by flipping the flag alone", obj("central", "false", "1"), obj("", "true", "1"), defaults.Update, false, "central"},
		{"disabled stays disabled", obj("disabled", "true", "1"), obj("", "true", "2"), defaults.Update, true, "disabled"},
		{"explicit move back to in-tree", obj("central", "false", "1"), obj("disabled", "true", "1"), defaults.Update, true, "disabled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := defaults.Expand(defaults.Input{Object: c.new, OldObject: c.old, Operation: c.op, Namespace: "default", Policy: central})
			if len(res.Errors) > 0 {
				t.Fatal(res.Errors)
			}
			if got := jsonAt(t, res.Object, "spec", "enableInTreeAutoscaling"); got != c.wantInTree {
				t.Errorf("enableInTreeAutoscaling = %v, want %v", got, c.wantInTree)
			}
			meta, _ := jsonAt(t, res.Object, "metadata").(map[string]any)
			ann, _ := meta["annotations"].(map[string]any)
			if got, _ := ann[defaults.AnnotationAutoscaling].(string); got != c.wantAnnotation {
				t.Errorf("annotation %s = %q, want %q", defaults.AnnotationAutoscaling, got, c.wantAnnotation)
			}
			labels, _ := meta["labels"].(map[string]any)
			wantLabel := ""
			if c.wantAnnotation == defaults.AutoscalingCentral {
				wantLabel = defaults.AutoscalingCentral
			}
			if got, _ := labels[defaults.LabelAutoscaling].(string); got != wantLabel || labels["team"] != "a" {
				t.Errorf("labels %v, want %s=%q and team=a", labels, defaults.LabelAutoscaling, wantLabel)
			}
		})
	}
}
