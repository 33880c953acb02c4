package defaults_test

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/defaults"
)

func yamlJSON(t *testing.T, s string) []byte {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func templateSet(names ...string) *defaults.TemplateSet {
	set := &defaults.TemplateSet{}
	for _, n := range names {
		set.AddComputeTemplate(&v1alpha1.ComputeTemplate{
			ObjectMeta: metav1.ObjectMeta{Name: n, Namespace: "default"},
			Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
		})
	}
	return set
}

const clusterYAML = `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: c, annotations: {ray.io/compute-template: t}}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 1, maxReplicas: 5, template: {}}
`

func jsonAt(t *testing.T, obj []byte, path ...any) any {
	t.Helper()
	var cur any
	if err := json.Unmarshal(obj, &cur); err != nil {
		t.Fatal(err)
	}
	for _, p := range path {
		switch k := p.(type) {
		case string:
			cur = cur.(map[string]any)[k]
		case int:
			cur = cur.([]any)[k]
		}
	}
	return cur
}

func TestReplicasDefaulting(t *testing.T) {
	created := defaults.Expand(defaults.Input{Object: yamlJSON(t, clusterYAML), Namespace: "default", Templates: templateSet("t")})
	if len(created.Errors) > 0 {
		t.Fatal(created.Errors)
	}
	if got := jsonAt(t, created.Object, "spec", "workerGroupSpecs", 0, "replicas"); got != float64(1) {
		t.Errorf("CREATE without replicas: replicas = %v, want minReplicas 1", got)
	}
	// A server-side re-apply drops replicas (the applier never set it); the
	// stored value (say the scaler's 4) must survive, not fall back to min.
	stored := strings.Replace(string(created.Object), `"replicas":1`, `"replicas":4`, 1)
	updated := defaults.Expand(defaults.Input{
		Object: yamlJSON(t, clusterYAML), OldObject: []byte(stored), Operation: defaults.Update,
		Namespace: "default", Templates: templateSet("t"),
	})
	if got := jsonAt(t, updated.Object, "spec", "workerGroupSpecs", 0, "replicas"); got != float64(4) {
		t.Errorf("UPDATE without replicas: replicas = %v, want the stored 4", got)
	}
}

func TestUpdateRatchetsProblemsThatPredateIt(t *testing.T) {
	created := defaults.Expand(defaults.Input{Object: yamlJSON(t, clusterYAML), Namespace: "default", Templates: templateSet("t")})
	if len(created.Errors) > 0 {
		t.Fatal(created.Errors)
	}
	// The template is deleted; the scaler then patches replicas.
	scaled := strings.Replace(string(created.Object), `"replicas":1`, `"replicas":3`, 1)
	res := defaults.Expand(defaults.Input{
		Object: []byte(scaled), OldObject: created.Object, Operation: defaults.Update,
		Namespace: "default", Templates: templateSet(),
	})
	if len(res.Errors) > 0 {
		t.Fatalf("replica patch blocked by a template deleted after create: %v", res.Errors)
	}
	if len(res.Warnings) == 0 || !strings.Contains(strings.Join(res.Warnings, "\n"), "compute template not found") {
		t.Errorf("no warning about the missing template: %q", res.Warnings)
	}
	if res.Changed {
		t.Errorf("ratcheted update changed the object: %s", res.Object)
	}
	// A new problem in the same update is still refused.
	bad := strings.Replace(scaled, `"replicas":3`, `"replicas":9`, 1)
	res = defaults.Expand(defaults.Input{
		Object: []byte(bad), OldObject: created.Object, Operation: defaults.Update,
		Namespace: "default", Templates: templateSet(),
	})
	if len(res.Errors) != 1 || res.Errors[0].Error() != "spec.workerGroupSpecs[0].replicas: Invalid value: 9: must be <= maxReplicas (5)" {
		t.Errorf("errors = %v, want only the new replicas error", res.Errors)
	}
	// Adding a group that names a missing template is a new problem too.
	added := strings.Replace(scaled, `"workerGroupSpecs":[`, `"workerGroupSpecs":[{"groupName":"new","minReplicas":0,"maxReplicas":1,"template":{"metadata":{"annotations":{"ray.io/compute-template":"gone"}}}},`, 1)
	res = defaults.Expand(defaults.Input{Object: []byte(added), OldObject: created.Object, Operation: defaults.Update, Namespace: "default", Templates: templateSet()})
	if len(res.Errors) == 0 {
		t.Error("a new group with a missing template was admitted")
	}
}

func TestConfigMapTemplateMatchesComputeTemplate(t *testing.T) {
	crd := templateSet("t")
	cm := &defaults.TemplateSet{}
	cm.AddConfigMap("default", "t", map[string]string{"cpu": "2", "memory": "4", "memory_unit": "Gi", "gpu": "0", "gpu_accelerator": "", "extended_resources": "null"})
	a := defaults.Expand(defaults.Input{Object: yamlJSON(t, clusterYAML), Namespace: "default", Templates: crd})
	b := defaults.Expand(defaults.Input{Object: yamlJSON(t, clusterYAML), Namespace: "default", Templates: cm})
	for _, path := range [][]any{
		{"spec", "headGroupSpec", "template", "spec"},
		{"spec", "workerGroupSpecs", 0, "template", "spec"},
	} {
		if x, y := mustJSON(t, jsonAt(t, a.Object, path...)), mustJSON(t, jsonAt(t, b.Object, path...)); x != y {
			t.Errorf("%v differs:\nComputeTemplate: %s\nConfigMap:       %s", path, x, y)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestConfigMapTemplatesCanBeSwitchedOff(t *testing.T) {
	cm := &defaults.TemplateSet{}
	cm.AddConfigMap("default", "t", map[string]string{"cpu": "2", "memory": "4", "memory_unit": "Gi"})
	off := false
	p := defaults.DefaultPolicy()
	p.Limits.ReadAPIServerConfigMaps = &off
	res := defaults.Expand(defaults.Input{Object: yamlJSON(t, clusterYAML), Namespace: "default", Templates: cm, Policy: p})
	if len(res.Errors) != 1 || strings.Contains(res.Errors[0].Error(), "ConfigMap") {
		t.Errorf("with ConfigMap templates off: errors = %v", res.Errors)
	}
}

func TestTemplateFromConfigMapErrors(t *testing.T) {
	for _, tc := range []struct {
		data map[string]string
		want string
	}{
		{map[string]string{"memory": "4"}, "data.cpu: Required value"},
		{map[string]string{"cpu": "two", "memory": "4"}, `data.cpu: Invalid value: "two"`},
		{map[string]string{"cpu": "2", "memory": "0"}, `data.memory: Invalid value: "0Gi": must be greater than 0`},
		{map[string]string{"cpu": "2", "memory": "4", "gpu": "-1"}, "data.gpu: Invalid value"},
		{map[string]string{"cpu": "2", "memory": "4", "extended_resources": "{"}, "data.extended_resources: must be a JSON object"},
		{map[string]string{"cpu": "2", "memory": "4", "tolerations": "x"}, "data.tolerations: must be a JSON list"},
	} {
		_, err := defaults.TemplateFromConfigMap("ns", "name", tc.data)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "ConfigMap ns/name") {
			t.Errorf("%v: err = %v, want it to contain %q", tc.data, err, tc.want)
		}
	}
	tpl, err := defaults.TemplateFromConfigMap("ns", "m", map[string]string{"cpu": "500m", "memory": "512", "memory_unit": "Mi"})
	if err != nil || tpl.Spec.CPU.String() != "500m" || tpl.Spec.Memory.String() != "512Mi" {
		t.Errorf("quantities: %+v, %v", tpl, err)
	}
}

func TestParsePolicy(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
	}{
		{"defaults: {imag: x}", `unknown field "imag"`},
		{"enforce: [color]", `enforce[0]: Unsupported value: "color"`},
		{"enforce: [priorityClassName]", "defaults.priorityClassName must be set to be enforced"},
		{"defaults: {autoscaling: {mode: sidecar}}", `defaults.autoscaling.mode: Unsupported value: "sidecar"`},
		{"limits: {maxReplicasPerGroup: -1}", "limits.maxReplicasPerGroup: Invalid value: -1"},
		{"limits: {maxCPUPerPod: lots}", "quantities must match"},
	} {
		if _, err := defaults.ParsePolicy([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want %q", tc.doc, err, tc.want)
		}
	}
	p, err := defaults.ParsePolicy(nil)
	if err != nil || p.Defaults.Image != defaults.BuiltinImage || p.Defaults.Autoscaling.Mode != defaults.ModeInTree {
		t.Errorf("empty policy = %+v, %v; want the built-in defaults", p, err)
	}
}

// Enforced fields hold whichever way the cluster arrives: a RayJob's or a
// RayService's embedded spec, or an UPDATE that tries to change them back.
func TestEnforcementCannotBeBypassed(t *testing.T) {
	p, err := defaults.ParsePolicy([]byte("defaults: {priorityClassName: batch}\nenforce: [priorityClassName]"))
	if err != nil {
		t.Fatal(err)
	}
	job := `apiVersion: ray.io/v1
kind: RayJob
metadata: {name: j}
spec:
  entrypoint: x
  rayClusterSpec:
    rayVersion: "2.9.0"
    headGroupSpec: {template: {spec: {priorityClassName: system-node-critical, containers: [{name: ray-head}]}}}
`
	res := defaults.Expand(defaults.Input{Object: yamlJSON(t, job), Namespace: "default", Policy: p})
	if got := jsonAt(t, res.Object, "spec", "rayClusterSpec", "headGroupSpec", "template", "spec", "priorityClassName"); got != "batch" {
		t.Errorf("RayJob: priorityClassName = %v, want batch", got)
	}
	upd := defaults.Expand(defaults.Input{Object: yamlJSON(t, job), OldObject: res.Object, Operation: defaults.Update, Namespace: "default", Policy: p})
	if got := jsonAt(t, upd.Object, "spec", "rayClusterSpec", "headGroupSpec", "template", "spec", "priorityClassName"); got != "batch" {
		t.Errorf("UPDATE: priorityClassName = %v, want batch", got)
	}
}

func TestNotARayObject(t *testing.T) {
	res := defaults.Expand(defaults.Input{Object: []byte(`{"kind":"Pod"}`)})
	if len(res.Errors) != 1 || !strings.Contains(res.Errors[0].Error(), `kind: Unsupported value: "Pod"`) {
		t.Errorf("errors = %v", res.Errors)
	}
	for _, bad := range []string{``, `[]`, `{"kind":"RayCluster"} trailing`, `"x"`} {
		if res := defaults.Expand(defaults.Input{Object: []byte(bad)}); len(res.Errors) == 0 {
			t.Errorf("%q: no error", bad)
		}
	}
}

// The CRD defaults replicas to 0 before the webhook sees the object, so a
// value below minReplicas is raised to it instead of being refused.
func TestReplicasBelowMinAreRaised(t *testing.T) {
	obj := strings.Replace(string(yamlJSON(t, clusterYAML)), `"minReplicas":1`, `"minReplicas":2,"replicas":0`, 1)
	res := defaults.Expand(defaults.Input{Object: []byte(obj), Namespace: "default", Templates: templateSet("t")})
	if len(res.Errors) > 0 {
		t.Fatal(res.Errors)
	}
	if got := jsonAt(t, res.Object, "spec", "workerGroupSpecs", 0, "replicas"); got != float64(2) {
		t.Errorf("replicas = %v, want minReplicas 2", got)
	}
}
