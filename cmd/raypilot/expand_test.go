package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const template = `apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata: {name: default-template, namespace: team}
spec: {cpu: "2", memory: 4Gi}
`

func TestExpandSeed(t *testing.T) {
	code, out, errOut := runCLI(t, "", "expand", "-f", "../../examples/compute-template.yaml", "-f", "../../examples/raycluster.yaml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr: %s", errOut)
	}
	for _, want := range []string{"kind: ComputeTemplate", "name: ray-head", "name: ray-worker", "cpu: \"2\"", "memory: 4Gi", "mountPath: /home/ray/samples", "rayproject/ray:2.9.0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Count(out, "\n---\n") != 1 {
		t.Errorf("want 2 documents:\n%s", out)
	}
}

func TestExpandStdinNamespaceAndJSONList(t *testing.T) {
	cluster := `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: a, annotations: {ray.io/compute-template: default-template}}
spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}}
---
apiVersion: v1
kind: Service
metadata: {name: untouched}
spec: {ports: [{port: 80}]}
`
	// Without --namespace the template (in namespace team) is not visible.
	if code, out, errOut := runCLI(t, cluster, "expand", "-f", writeFile(t, "t.yaml", template), "-f", "-"); code != 1 || out != "" ||
		!strings.Contains(errOut, `templates available in namespace "default": none`) {
		t.Errorf("default namespace: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut := runCLI(t, cluster, "expand", "-f", writeFile(t, "t.yaml", template), "-f", "-", "--namespace", "team", "-o", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list struct {
		Kind  string
		Items []map[string]any
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || list.Kind != "List" || len(list.Items) != 3 {
		t.Fatalf("-o json with 3 documents: %v, %s", err, out)
	}
	if svc := list.Items[2]; svc["kind"] != "Service" || svc["spec"].(map[string]any)["ports"] == nil {
		t.Errorf("Service not passed through: %v", svc)
	}
	// A single document comes out as one JSON object, not a List.
	code, out, _ = runCLI(t, cluster[:strings.Index(cluster, "---")], "expand", "-f", "-", "-o", "json")
	var one map[string]any
	if code != 1 {
		t.Errorf("cluster without its template: exit %d", code)
	}
	code, out, _ = runCLI(t, template, "expand", "-f", "-", "-o", "json")
	if code != 0 || json.Unmarshal([]byte(out), &one) != nil || one["kind"] != "ComputeTemplate" {
		t.Errorf("single document: exit %d, output %s", code, out)
	}
}

// Each warning and error names its object (kind, namespace/name, or the
// place in the input of one without a name), so that a file of many
// objects says which one is wrong; objects without errors print none.
func TestExpandErrorsAndWarnings(t *testing.T) {
	bad := `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: good}
spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}}
---
apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: bad}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {rayStartParams: {num-cpus: "64"}, template: {spec: {containers: [{name: ray-head, resources: {limits: {cpu: "1"}}}]}}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 6, maxReplicas: 5, template: {}}
  - {groupName: wg, minReplicas: 0, maxReplicas: 5, template: {}}
---
apiVersion: v1
kind: List
items:
- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: other, namespace: team}, spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}, workerGroupSpecs: [{groupName: a, minReplicas: 2, maxReplicas: 1, template: {}}]}}
- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {generateName: anon-}, spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}, workerGroupSpecs: [{groupName: a, minReplicas: 2, maxReplicas: 1, template: {}}]}}
`
	code, out, errOut := runCLI(t, bad, "expand", "-f", "-")
	if code != 1 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	want := []string{
		`Warning: RayCluster default/bad: spec.headGroupSpec.rayStartParams[num-cpus]: num-cpus 64 is more than the Ray container's CPU limit 1; Ray will oversubscribe the pod`,
		`RayCluster default/bad: spec.workerGroupSpecs[0].minReplicas: Invalid value: 6: must be <= maxReplicas (5)`,
		`RayCluster default/bad: spec.workerGroupSpecs[1].groupName: Duplicate value: "wg"`,
		`RayCluster team/other: spec.workerGroupSpecs[0].minReplicas: Invalid value: 2: must be <= maxReplicas (1)`,
		`RayCluster (<stdin>: document 3: items[1]): spec.workerGroupSpecs[0].minReplicas: Invalid value: 2: must be <= maxReplicas (1)`,
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("stderr:\n%s\nwant:\n%s", errOut, strings.Join(want, "\n"))
	}
}

func TestExpandPolicyAndUsage(t *testing.T) {
	policy := writeFile(t, "policy.yaml", "defaults:\n  image: \"rayproject/ray:{rayVersion}-py310\"\n  autoscaling: {mode: central}\n")
	cluster := writeFile(t, "c.yaml", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec: {rayVersion: \"2.9.0\", enableInTreeAutoscaling: true, headGroupSpec: {template: {}}}\n")
	code, out, errOut := runCLI(t, "", "expand", "-f", cluster, "--policy", policy)
	if code != 0 || !strings.Contains(out, "rayproject/ray:2.9.0-py310") || !strings.Contains(out, "raypilot.io/autoscaling: central") || !strings.Contains(out, "enableInTreeAutoscaling: false") {
		t.Errorf("exit %d, stderr %s, output:\n%s", code, errOut, out)
	}
	for _, args := range [][]string{
		{"expand"},
		{"expand", "-f", cluster, "-o", "xml"},
		{"expand", "-f", "/no/such/file"},
		{"expand", "-f", cluster, "--policy", writeFile(t, "bad.yaml", "defaults: {colour: red}")},
		{"frobnicate"},
	} {
		if code, out, _ := runCLI(t, "", args...); code != 2 || out != "" {
			t.Errorf("%v: exit %d, stdout %q; want 2 and nothing", args, code, out)
		}
	}
	if code, out, _ := runCLI(t, "", "version"); code != 0 || strings.TrimSpace(out) == "" {
		t.Errorf("version: %d %q", code, out)
	}
}

// Input the engine never sees: each problem one line naming the field,
// exit 1, nothing on stdout; and nesting is bounded, so `-o json` (2
// spaces of indentation per level on every line) stays linear: 18 KB of
// brackets wrote 162 MB.
func TestExpandBadDocuments(t *testing.T) {
	deep := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + strings.Repeat("[", 9000) + strings.Repeat("]", 9000) + "\n"
	cases := []struct {
		name, in, want string
	}{
		{"deeply nested", deep, "<stdin>: document 1: data" + strings.Repeat("[0]", 100) + ": Forbidden: nested more than 100 levels deep (line 4)"},
		{"metadata a list", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: []\nspec: {}\n", "<stdin>: document 1: metadata: Invalid value: []: must be an object"},
		{"NaN", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec: {rayVersion: \"2.9.0\", headGroupSpec: {template: {}}, workerGroupSpecs: [{groupName: a, maxReplicas: .nan}]}\n",
			`<stdin>: document 1: spec.workerGroupSpecs[0].maxReplicas: Invalid value: ".nan": not a number JSON can hold (line 4): NaN and infinities have no JSON form; quote it if you mean the text`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, c.in, "expand", "-f", "-", "-o", "json")
			if code != 1 || out != "" || strings.TrimSpace(errOut) != c.want {
				t.Errorf("exit %d, %d bytes on stdout, stderr:\n%s\nwant:\n%s", code, len(out), errOut, c.want)
			}
		})
	}
	// At the bound, the output is a few times the input.
	atBound := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: " + strings.Repeat("[", 99) + strings.Repeat("1,", 2000) + "1" + strings.Repeat("]", 99) + "\n"
	code, out, errOut := runCLI(t, atBound, "expand", "-f", "-", "-o", "json")
	if code != 0 || len(out) > 250*len(atBound) {
		t.Errorf("exit %d, %d bytes out of %d: %s", code, len(out), len(atBound), errOut)
	}
}

// A RayCluster inside a List is expanded like one on its own.
func TestExpandList(t *testing.T) {
	list := `apiVersion: v1
kind: List
items:
- {apiVersion: ray.io/v1, kind: RayCluster, metadata: {name: c}, spec: {rayVersion: "2.9.0", headGroupSpec: {template: {}}}}
`
	code, out, errOut := runCLI(t, list, "expand", "-f", "-")
	if code != 0 || !strings.Contains(out, "image: rayproject/ray:2.9.0") || !strings.Contains(out, "kind: List") {
		t.Errorf("exit %d, stderr %s, output:\n%s", code, errOut, out)
	}
}
