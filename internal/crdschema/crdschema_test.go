package crdschema

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const validCluster = `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"c"},
"spec":{"headGroupSpec":{"rayStartParams":{"num-cpus":"0"},"template":{"spec":{"containers":[{"name":"ray-head","image":"rayproject/ray:2.9.0"}]}}},
"workerGroupSpecs":[{"groupName":"wg","minReplicas":0,"maxReplicas":2,"template":{"spec":{"containers":[{"name":"ray-worker","image":"rayproject/ray:2.9.0"}]}}}]}}`

// TestCheckCatchesWhatTheAPIServerRejects makes sure the validator is not
// vacuous: each case breaks one rule of the real v1.5.0 schema.
func TestCheckCatchesWhatTheAPIServerRejects(t *testing.T) {
	v, err := For("RayCluster")
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.CheckJSON([]byte(validCluster))
	if err != nil || !p.OK() {
		t.Fatalf("valid cluster: %v\n%s", err, p)
	}
	cases := []struct {
		name, from, to string
		pruned, errs   string // substring expected in Pruned / Errors
	}{
		{"non-string rayStartParams", `"num-cpus":"0"`, `"num-cpus":0`, "", `spec.headGroupSpec.rayStartParams.num-cpus: Invalid value: "integer"`},
		{"container without name", `{"name":"ray-worker",`, `{`, "", "spec.workerGroupSpecs[0].template.spec.containers[0].name: Required value"},
		{"duplicate container names", `[{"name":"ray-worker","image":"rayproject/ray:2.9.0"}]`, `[{"name":"x"},{"name":"x"}]`, "", "Duplicate value"},
		{"managedBy outside the CEL enum", `"spec":{`, `"spec":{"managedBy":"me",`, "", "the managedBy field value must be either"},
		{"missing headGroupSpec template", `"headGroupSpec":{"rayStartParams":{"num-cpus":"0"},"template":{"spec":{"containers":[{"name":"ray-head","image":"rayproject/ray:2.9.0"}]}}}`, `"headGroupSpec":{}`, "", "spec.headGroupSpec.template: Required value"},
		{"unknown spec field", `"spec":{`, `"spec":{"upgradeStrategy":{"type":"Recreate"},`, "spec.upgradeStrategy", ""},
		{"unknown template metadata field", `"template":{"spec":{"containers":[{"name":"ray-worker"`, `"template":{"metadata":{"generateName":"x"},"spec":{"containers":[{"name":"ray-worker"`, "spec.workerGroupSpecs[0].template.metadata.generateName", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(validCluster, c.from, c.to, 1)
			if in == validCluster {
				t.Fatalf("case does not change the object")
			}
			p, err := v.CheckJSON([]byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if c.pruned != "" && !strings.Contains(strings.Join(p.Pruned, "\n"), c.pruned) {
				t.Errorf("pruned %q, want %q", p.Pruned, c.pruned)
			}
			if c.errs != "" && !strings.Contains(p.String(), c.errs) {
				t.Errorf("problems:\n%s\nwant %q", p, c.errs)
			}
			if c.pruned == "" && len(p.Pruned) > 0 || c.errs == "" && len(p.Errors) > 0 {
				t.Errorf("unexpected problems:\n%s", p)
			}
		})
	}
}

func TestEveryKindLoads(t *testing.T) {
	for _, kind := range []string{"RayCluster", "RayJob", "RayService"} {
		if v, err := For(kind); err != nil || v.Kind != kind {
			t.Errorf("%s: %v", kind, err)
		}
	}
	if _, err := For("Pod"); err == nil {
		t.Error("Pod has no KubeRay CRD")
	}
}

func TestValidateKubeRay(t *testing.T) {
	if err := ValidateKubeRay([]byte(validCluster)); err != nil {
		t.Fatalf("valid cluster: %v", err)
	}
	cases := []struct{ name, from, to, want string }{
		{"no head container", `"containers":[{"name":"ray-head","image":"rayproject/ray:2.9.0"}]`, `"containers":[]`, "headGroupSpec should have at least one container"},
		{"resources twice", `"rayStartParams":{"num-cpus":"0"},`, `"rayStartParams":{"num-cpus":"0"},"resources":{"CPU":"1"},`, "resource fields should not be set in both rayStartParams and Resources for Head group; please use only one"},
		{"labels param", `"num-cpus":"0"`, `"labels":"a=b"`, "rayStartParams['labels'] is not supported for Head group"},
		{"bad group label", `"groupName":"wg",`, `"groupName":"wg","labels":{"a b":"c"},`, "invalid label key for wg group: 'a b'"},
		{"suspended worker group", `"groupName":"wg",`, `"groupName":"wg","suspend":true,`, "worker group wg can be suspended only when the RayJobDeletionPolicy feature gate is enabled"},
		{"long name", `"name":"c"`, `"name":"` + strings.Repeat("c", 54) + `"`, "RayCluster name should be no more than 53 characters"},
	}
	for _, c := range cases {
		in := strings.Replace(validCluster, c.from, c.to, 1)
		if err := ValidateKubeRay([]byte(in)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
	}
	job := `{"kind":"RayJob","metadata":{"name":"j","annotations":{"ray.io/ft-enabled":"true"}},"spec":{"rayClusterSpec":{"gcsFaultToleranceOptions":{"redisAddress":"r:6379"},"headGroupSpec":{"template":{"spec":{"containers":[{"name":"h"}]}}}}}}`
	if err := ValidateKubeRay([]byte(job)); err == nil || !strings.Contains(err.Error(), "ray.io/ft-enabled annotation and GcsFaultToleranceOptions are both set") {
		t.Errorf("RayJob annotations are not applied to the embedded spec: %v", err)
	}
}

func TestUnknownFieldsAndLookup(t *testing.T) {
	v, err := For("RayCluster")
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Replace(validCluster, `"spec":{`, `"status":{"x.y/z":1},"spec":{"upgradeStrategy":{"type":"Recreate"},"a/b~c":true,`, 1)
	in = strings.Replace(in, `"groupName":"wg",`, `"groupName":"wg","priority":7,`, 1)
	var obj map[string]any
	if err := json.Unmarshal([]byte(in), &obj); err != nil {
		t.Fatal(err)
	}
	got := v.UnknownFields(obj)
	want := map[string]any{
		"/spec/upgradeStrategy":             map[string]any{"type": "Recreate"},
		"/spec/a~1b~0c":                     true,
		"/spec/workerGroupSpecs/0/priority": float64(7),
		"/status/x.y~1z":                    float64(1),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("unknown fields %v, want %v", got, want)
	}
	for ptr, val := range want {
		if found, ok := Lookup(obj, ptr); !ok || !reflect.DeepEqual(found, val) {
			t.Errorf("Lookup(%s) = %v, %v", ptr, found, ok)
		}
	}
	if _, ok := Lookup(obj, "/spec/workerGroupSpecs/1"); ok {
		t.Error("Lookup past the end of a list")
	}
}
