package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/raypilot/raypilot/internal/apiserverconv"
)

const convertTestdata = "../../internal/apiserverconv/testdata"

func convertCLI(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(append([]string{"convert"}, args...), strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// The seed's two requests print the package's golden YAML, which
// kubectl apply takes as it is.
func TestConvertSeed(t *testing.T) {
	seed := filepath.Join(convertTestdata, "seed")
	want, err := os.ReadFile(filepath.Join(seed, "converted.golden.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	template, err := os.ReadFile(filepath.Join(seed, "compute-template.json"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := convertCLI(t, string(template), "-f", "-", "--filename", filepath.Join(seed, "cluster.json"))
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != string(want) {
		t.Errorf("stdout differs from converted.golden.yaml:\n%s", out)
	}
}

func TestConvertFlags(t *testing.T) {
	cluster := filepath.Join(convertTestdata, "seed", "cluster.json")
	template := filepath.Join(convertTestdata, "seed", "compute-template.json")

	// -o json: several objects are a v1 List.
	code, out, errOut := convertCLI(t, "", "-f", template, "-f", cluster, "-o", "json")
	var list struct {
		Kind  string
		Items []struct{ Kind string }
	}
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || list.Kind != "List" || len(list.Items) != 2 || list.Items[1].Kind != "RayCluster" {
		t.Errorf("-o json: exit %d, stdout %s, stderr %s", code, out, errOut)
	}

	// -n fills a namespace the request leaves out, and refuses another.
	code, out, errOut = convertCLI(t, `{"name": "t", "cpu": 1, "memory": 1}`, "-f", "-", "--namespace", "team-a")
	if code != 0 || !strings.Contains(out, "namespace: team-a") {
		t.Errorf("--namespace: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	code, out, errOut = convertCLI(t, "", "-f", cluster, "-n", "team-a")
	if code != 1 || out != "" || !strings.Contains(errOut, `cluster.json: object 1: namespace: Invalid value: "default": does not match --namespace "team-a"`) {
		t.Errorf("-n against the request's namespace: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	// --kind decides for a request whose fields fit several kinds.
	job := `{"name": "j", "namespace": "default", "user": "u", "version": "2.9.0",
	  "clusterSpec": {"headGroupSpec": {"computeTemplate": "t", "rayStartParams": {"num-cpus": "0"}}}}`
	if code, out, errOut = convertCLI(t, job, "-f", "-"); code != 0 || !strings.Contains(out, "kind: RayCluster") {
		t.Errorf("told from its fields: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
	if code, out, errOut = convertCLI(t, job, "-f", "-", "--kind", "rayjob"); code != 0 || !strings.Contains(out, "kind: RayJob") || !strings.Contains(out, "rayClusterSpec:") {
		t.Errorf("--kind rayjob: exit %d, stdout %s, stderr %s", code, out, errOut)
	}

	// Warnings go to stderr, the objects to stdout.
	code, out, errOut = convertCLI(t, `{"name": "t", "namespace": "default", "cpu": 1, "memory": 1}
	  {"name": "j", "namespace": "default", "entrypoint": "python x.py", "clusterSelector": {"ray.io/cluster": "c"}, "jobStatus": "RUNNING"}`, "-f", "-")
	if code != 0 || !strings.Contains(errOut, "Warning: <stdin>: object 2: jobStatus: ignored") || strings.Count(out, "\n---\n") != 1 {
		t.Errorf("warnings: exit %d, stdout %s, stderr %s", code, out, errOut)
	}
}

func TestConvertErrors(t *testing.T) {
	cluster := filepath.Join(convertTestdata, "seed", "cluster.json")
	for _, tc := range []struct {
		name, stdin string
		args        []string
		code        int
		stderr      string
	}{
		{"no input", "", nil, 2, `required flag(s) "filename" not set`},
		{"output", "", []string{"-f", cluster, "-o", "xml"}, 2, `invalid argument "xml" for "-o, --output" flag: want yaml or json`},
		{"kind", "", []string{"-f", cluster, "--kind", "Pod"}, 2, `unknown kind "Pod"`},
		{"arguments", "", []string{"-f", cluster, "extra"}, 2, `unknown command "extra" for "raypilot convert"`},
		{"stdin twice", "{}", []string{"-f", "-", "-f", "-"}, 2, "stdin can be read once"},
		{"missing file", "", []string{"-f", filepath.Join(t.TempDir(), "none.json")}, 2, "no such file"},
		{"unknown field", `{"name": "t", "cpu": 1, "memory": 1, "gpus": 1}`, []string{"-f", "-"}, 1,
			`<stdin>: object 1: gpus: Forbidden: unknown field "gpus": not in the API server's ComputeTemplate, which ignored it; remove it, or write "gpu"`},
		{"too large", "[" + strings.Repeat(" ", apiserverconv.MaxInputBytes) + "]", []string{"-f", "-"}, 1, "<stdin>: more than 33554432 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := convertCLI(t, tc.stdin, tc.args...)
			if code != tc.code || out != "" || !strings.Contains(errOut, tc.stderr) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %s (want %q)", code, tc.code, out, errOut, tc.stderr)
			}
		})
	}
}
