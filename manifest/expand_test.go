package manifest_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/manifest"
)

func expandText(t *testing.T, text string, policy *defaults.Policy) *manifest.Output {
	t.Helper()
	docs, err := manifest.Read(strings.NewReader(text), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if policy == nil {
		policy = defaults.DefaultPolicy()
	}
	out, err := manifest.Expand(docs, policy, "default")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A RayCluster inside a List is expanded, with a template from the same
// List, as kubectl applies the items of a List one by one.
func TestListItemsExpanded(t *testing.T) {
	out := expandText(t, `apiVersion: v1
kind: List
items:
- apiVersion: raypilot.io/v1alpha1
  kind: ComputeTemplate
  metadata: {name: t}
  spec: {cpu: "1", memory: 1Gi}
- apiVersion: ray.io/v1
  kind: RayCluster
  metadata: {name: c, annotations: {ray.io/compute-template: t}}
  spec:
    rayVersion: "2.9.0"
    headGroupSpec: {template: {}}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
  spec: {ports: [{port: 80}]}
`, nil)
	if len(out.Errors) > 0 {
		t.Fatal(out.Errors)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if len(out.Documents) != 1 || json.Unmarshal(out.Documents[0].JSON, &list) != nil || list.Kind != "List" || len(list.Items) != 3 {
		t.Fatalf("documents %+v", out.Documents)
	}
	js, _ := json.Marshal(list.Items[1])
	for _, want := range []string{`"image":"rayproject/ray:2.9.0"`, `"cpu":"1"`, `"raypilot.io/expanded"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("the RayCluster item was not expanded (no %s): %s", want, js)
		}
	}
	if list.Items[2]["kind"] != "Service" || list.Items[0]["kind"] != "ComputeTemplate" {
		t.Errorf("other items changed: %v", list.Items)
	}
	yaml, err := manifest.YAML(out.Documents)
	if err != nil || !strings.Contains(string(yaml), "raypilot.io/expanded") {
		t.Errorf("YAML: %v\n%s", err, yaml)
	}
	// An item the engine refuses fails the whole run, naming the field.
	bad := expandText(t, "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: c}, spec: {headGroupSpec: {template: {}}}}\n", nil)
	if want := "spec.headGroupSpec.template.spec.containers[0].image: Required value: set an image on the Ray container, or spec.rayVersion so the default image pattern applies"; strings.Join(bad.Errors, "\n") != want {
		t.Errorf("errors %q, want %q", bad.Errors, want)
	}
}

// What the API server would refuse after the webhook, `raypilot expand`
// refuses with the API server's message; what the CRD defaults decide
// (maxReplicas 2147483647 when unset), it decides the same way.
func TestCRDVerdicts(t *testing.T) {
	limits, err := defaults.ParsePolicy([]byte("limits: {maxReplicasPerGroup: 100}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cluster := func(spec string) string {
		return "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec:\n  rayVersion: \"2.9.0\"\n" + spec
	}
	cases := []struct {
		name, text string
		policy     *defaults.Policy
		want       []string
	}{
		{"maxReplicas unset under a per-group limit", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), limits,
			[]string{"spec.workerGroupSpecs[0].maxReplicas: Invalid value: 2147483647: must be <= 100 (policy limits.maxReplicasPerGroup)"}},
		{"limits a list", cluster("  headGroupSpec: {template: {spec: {containers: [{name: r, resources: {limits: [1]}}]}}}\n"), nil,
			[]string{`spec.headGroupSpec.template.spec.containers[0].resources.limits: Invalid value: "array": spec.headGroupSpec.template.spec.containers[0].resources.limits in body must be of type object: "array"`}},
		{"headGroupSpec null", cluster("  headGroupSpec: null\n"), nil,
			[]string{"spec.headGroupSpec: Required value: every Ray cluster needs a head group; `headGroupSpec: {template: {}}` is enough"}},
		{"numOfHosts 0.5", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: 0.5, template: {}}]\n"), nil,
			[]string{`spec.workerGroupSpecs[0].numOfHosts: Invalid value: "float64": spec.workerGroupSpecs[0].numOfHosts in body must be of type int32: "float64"`}},
		{"numOfHosts a string", cluster("  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, maxReplicas: 2, numOfHosts: \"4\", template: {}}]\n"), nil,
			[]string{`spec.workerGroupSpecs[0].numOfHosts: Invalid value: "string": spec.workerGroupSpecs[0].numOfHosts in body must be of type integer: "string"`}},
		{"managedBy outside the CEL enum", cluster("  managedBy: me\n  headGroupSpec: {template: {}}\n"), nil,
			[]string{`spec.managedBy: Invalid value: "me": the managedBy field value must be either 'ray.io/kuberay-operator' or 'kueue.x-k8s.io/multikueue'`}},
		{"label value with a space", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c, labels: {team: a b}}\nspec:\n  rayVersion: \"2.9.0\"\n  headGroupSpec: {template: {}}\n", nil,
			[]string{`metadata.labels: Invalid value: "a b": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')`}},
		{"wrong apiVersion", "apiVersion: ray.io/v2\nkind: RayCluster\nmetadata: {name: c}\nspec:\n  rayVersion: \"2.9.0\"\n  headGroupSpec: {template: {}}\n", nil,
			[]string{`apiVersion: Invalid value: "ray.io/v2": must be ray.io/v1`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := expandText(t, c.text, c.policy)
			if got, want := strings.Join(out.Errors, "\n"), strings.Join(c.want, "\n"); got != want {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
	// Fields of newer KubeRay versions still pass through, and the CRD's
	// defaults are not written out.
	out := expandText(t, cluster("  upgradeStrategy: {type: Recreate}\n  headGroupSpec: {template: {}}\n  workerGroupSpecs: [{groupName: a, template: {}}]\n"), nil)
	if len(out.Errors) > 0 {
		t.Fatal(out.Errors)
	}
	js := string(out.Documents[0].JSON)
	if !strings.Contains(js, `"upgradeStrategy":{"type":"Recreate"}`) || strings.Contains(js, "2147483647") || strings.Contains(js, "numOfHosts") {
		t.Errorf("output %s", js)
	}
}

// Expand leaves its input as written, list items included: the same
// documents can be expanded again, or printed unchanged.
func TestExpandKeepsItsInput(t *testing.T) {
	docs, err := manifest.Read(strings.NewReader(`apiVersion: v1
kind: List
items:
- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: c}, spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}}}
`), "f.yaml")
	if err != nil {
		t.Fatal(err)
	}
	before := string(docs[0].Items[0].JSON)
	out, err := manifest.Expand(docs, defaults.DefaultPolicy(), "default")
	if err != nil || len(out.Errors) > 0 {
		t.Fatal(err, out.Errors)
	}
	if after := string(docs[0].Items[0].JSON); after != before {
		t.Errorf("the input's list item changed:\n%s\nwas\n%s", after, before)
	}
	if string(out.Documents[0].Items[0].JSON) == before {
		t.Error("the output's list item was not expanded")
	}
}
