package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler"
)

// planFixture is the path of a file under testdata/plan.
func planFixture(name string) string { return filepath.Join("testdata", "plan", name) }

// planResult is the output of `raypilot plan` as its consumers decode it.
type planResult struct {
	Launch    map[string]int `json:"launch"`
	Terminate []struct {
		Pod   string `json:"pod"`
		Group string `json:"group"`
		Cause string `json:"cause"`
	} `json:"terminate"`
	Infeasible struct {
		Requests []struct {
			Resources map[string]float64 `json:"resources"`
			Count     int                `json:"count"`
		} `json:"requests"`
		Gangs       int `json:"gangs"`
		Constraints int `json:"constraints"`
	} `json:"infeasible"`
	Replicas            map[string]int `json:"replicas"`
	Groups              []planGroup    `json:"groups"`
	Decisions           []string       `json:"decisions"`
	UnnamedTerminations map[string]int `json:"unnamedTerminations"`
	Notes               []string       `json:"notes"`
	Truncated           *struct {
		Shapes      int `json:"shapes"`
		ShapesTotal int `json:"shapesTotal"`
	} `json:"truncated"`
}

// runPlanOK runs `raypilot plan` with args, requires exit 0, a quiet stderr
// and exactly one JSON object on stdout without nulls, and decodes it.
func runPlanOK(t *testing.T, args ...string) planResult {
	t.Helper()
	code, out, errOut := runCLI(t, "", append([]string{"plan"}, args...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		t.Fatalf("stdout is not a JSON object: %v\n%s", err, out)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON value:\n%s", out)
	}
	inf, _ := raw["infeasible"].(map[string]any)
	for what, v := range map[string]any{"launch": raw["launch"], "terminate": raw["terminate"], "replicas": raw["replicas"], "infeasible.requests": inf["requests"],
		"unnamedTerminations": raw["unnamedTerminations"], "notes": raw["notes"]} {
		if v == nil {
			t.Errorf("%s is missing or null:\n%s", what, out)
		}
	}
	var res planResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	return res
}

func TestPlanSeedScenarios(t *testing.T) {
	rc, rc1 := planFixture("raycluster.yaml"), planFixture("raycluster-one-worker.json")
	const worker = "test-cluster-small-wg-worker-x7k2p"
	type term struct{ pod, cause string }
	for _, tc := range []struct {
		name       string
		args       []string
		launch     map[string]int
		replicas   map[string]int
		terminate  []term
		unnamed    map[string]int // terminations counted, not named
		infeasible int            // pending {CPU: 1} requests left over
	}{
		{
			name:     "pending request launches a worker",
			args:     []string{"-f", rc, "--ray-state", planFixture("state-pending.json"), "--now", "2024-01-01T00:10:00Z"},
			launch:   map[string]int{"small-wg": 1},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:     "GetClusterResourceStateReply",
			args:     []string{"-f", rc, "--ray-state", planFixture("reply-pending.json")},
			launch:   map[string]int{"small-wg": 1},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:      "idle 31s with pods",
			args:      []string{"-f", rc1, "--ray-state", planFixture("state-idle-31s.json"), "--pods", planFixture("pods.json")},
			launch:    map[string]int{},
			replicas:  map[string]int{"small-wg": 0},
			terminate: []term{{worker, "IDLE"}},
		},
		{
			// Without --pods no name can be verified: counted, not named.
			name:     "idle 31s, pods from the state",
			args:     []string{"-f", rc1, "--ray-state", planFixture("state-idle-31s.json")},
			launch:   map[string]int{},
			replicas: map[string]int{"small-wg": 0},
			unnamed:  map[string]int{"small-wg": 1},
		},
		{
			name:     "idle exactly 30s is kept",
			args:     []string{"-f", rc1, "--ray-state", planFixture("state-idle-30s.json"), "--pods", planFixture("pods.json")},
			launch:   map[string]int{},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:       "12 CPUs of demand, maxReplicas 5",
			args:       []string{"-f", rc, "--ray-state", planFixture("state-demand-12cpu.json")},
			launch:     map[string]int{"small-wg": 5},
			replicas:   map[string]int{"small-wg": 5},
			infeasible: 2,
		},
		{
			name:       "12 CPUs of demand, maxWorkersPerCluster 2",
			args:       []string{"-f", rc, "--ray-state", planFixture("state-demand-12cpu.json"), "--policy", planFixture("policy-max2.yaml")},
			launch:     map[string]int{"small-wg": 2},
			replicas:   map[string]int{"small-wg": 2},
			infeasible: 8,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runPlanOK(t, tc.args...)
			if !maps.Equal(res.Launch, tc.launch) {
				t.Errorf("launch %v, want %v", res.Launch, tc.launch)
			}
			if !maps.Equal(res.Replicas, tc.replicas) {
				t.Errorf("replicas %v, want %v", res.Replicas, tc.replicas)
			}
			var terms []term
			for _, x := range res.Terminate {
				if x.Group != "small-wg" {
					t.Errorf("termination %+v: want group small-wg", x)
				}
				terms = append(terms, term{x.Pod, x.Cause})
			}
			if !reflect.DeepEqual(terms, tc.terminate) {
				t.Errorf("terminate %v, want %v", terms, tc.terminate)
			}
			if want := tc.unnamed; !maps.Equal(res.UnnamedTerminations, want) {
				t.Errorf("unnamed terminations %v, want %v", res.UnnamedTerminations, want)
			}
			if (len(tc.unnamed) > 0) != slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "pass the cluster's pods with --pods") }) {
				t.Errorf("notes %q", res.Notes)
			}
			left := 0
			for _, r := range res.Infeasible.Requests {
				if !maps.Equal(r.Resources, map[string]float64{"CPU": 1}) {
					t.Errorf("infeasible shape %v, want {CPU: 1}", r.Resources)
				}
				left += r.Count
			}
			if left != tc.infeasible || res.Infeasible.Gangs != 0 || res.Infeasible.Constraints != 0 {
				t.Errorf("infeasible %+v, want %d requests", res.Infeasible, tc.infeasible)
			}
			// Every change is explained; no change, no decision.
			if changed := len(tc.launch) > 0 || len(tc.terminate) > 0 || len(tc.unnamed) > 0; changed != (len(res.Decisions) > 0) {
				t.Errorf("decisions %q", res.Decisions)
			}
		})
	}
	res := runPlanOK(t, "-f", rc, "--ray-state", planFixture("state-pending.json"))
	if want := []string{"small-wg 0→1: 1 pending request {CPU: 1}"}; !reflect.DeepEqual(res.Decisions, want) {
		t.Errorf("decisions %q, want %q", res.Decisions, want)
	}
}

func TestPlanErrors(t *testing.T) {
	rc, state := planFixture("raycluster.yaml"), planFixture("state-pending.json")
	noCPU := writeFile(t, "nocpu.yaml", "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata: {name: c}\nspec: {headGroupSpec: {template: {}}}\n")
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		names string // what stderr must mention
	}{
		{"missing RayCluster file", []string{"-f", "/no/such/raycluster.yaml", "--ray-state", state}, 1, "/no/such/raycluster.yaml"},
		{"missing state file", []string{"-f", rc, "--ray-state", "/no/such/state.json"}, 1, "/no/such/state.json"},
		{"missing pods file", []string{"-f", rc, "--ray-state", state, "--pods", "/no/such/pods.json"}, 1, "/no/such/pods.json"},
		{"bad protojson", []string{"-f", rc, "--ray-state", planFixture("state-bad.json")}, 1, "state-bad.json"},
		{"not JSON at all", []string{"-f", rc, "--ray-state", rc}, 1, "raycluster.yaml"},
		{"bad YAML", []string{"-f", writeFile(t, "bad.yaml", "spec: [\n"), "--ray-state", state}, 1, "bad.yaml"},
		{"no CPU count", []string{"-f", noCPU, "--ray-state", state}, 1, "nocpu.yaml"},
		{"bad policy", []string{"-f", rc, "--ray-state", state, "--policy", writeFile(t, "policy.yaml", "limits: {maxWorkersPerCluster: -1}")}, 1, "policy.yaml"},
		{"missing --ray-state", []string{"-f", rc}, 2, "usage"},
		{"missing --raycluster", []string{"--ray-state", state}, 2, "usage"},
		{"bad --now", []string{"-f", rc, "--ray-state", state, "--now", "yesterday"}, 2, "--now"},
		{"unknown flag", []string{"-f", rc, "--ray-state", state, "--frobnicate"}, 2, "frobnicate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"plan"}, tc.args...), strings.NewReader(""), &out, &errb)
			if code != tc.code || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, out.String(), tc.code)
			}
			if !strings.Contains(errb.String(), tc.names) {
				t.Errorf("stderr %q does not mention %q", errb.String(), tc.names)
			}
			if tc.code == 1 && strings.Count(errb.String(), "\n") != 1 {
				t.Errorf("stderr is not one line: %q", errb.String())
			}
		})
	}
}

// planHostileState is a Ray state whose instance ids are not all this
// cluster's worker pods: the head (without Ray's head resource, reporting the
// worker group's type), another namespace's pod, a path, and one real idle
// worker.
const planHostileState = `{"nodeStates": [
  {"nodeId": "AQ==", "instanceId": "test-cluster-head-8x2vq", "rayNodeTypeName": "small-wg", "nodeIpAddress": "10.244.0.5", "status": "IDLE", "idleDurationMs": "600000",
   "totalResources": {"CPU": 2}, "availableResources": {"CPU": 2}},
  {"nodeId": "Ag==", "instanceId": "kube-system/coredns-abc", "rayNodeTypeName": "small-wg", "status": "IDLE", "idleDurationMs": "600000",
   "totalResources": {"CPU": 2}, "availableResources": {"CPU": 2}},
  {"nodeId": "Aw==", "instanceId": "../../other", "rayNodeTypeName": "small-wg", "status": "IDLE", "idleDurationMs": "600000",
   "totalResources": {"CPU": 2}, "availableResources": {"CPU": 2}},
  {"nodeId": "BA==", "instanceId": "coredns-abc", "rayNodeTypeName": "small-wg", "status": "IDLE", "idleDurationMs": "600000",
   "totalResources": {"CPU": 2}, "availableResources": {"CPU": 2}},
  {"nodeId": "BQ==", "instanceId": "test-cluster-small-wg-worker-x7k2p", "rayNodeTypeName": "small-wg", "nodeIpAddress": "10.244.0.6", "status": "IDLE", "idleDurationMs": "600000",
   "totalResources": {"CPU": 2}, "availableResources": {"CPU": 2}}
]}`

// planHostilePods are the cluster's pods as listed, plus pods a pods file
// could carry that are not this cluster's workers: one in another namespace
// and one whose name is not a pod name, both with the cluster's labels.
const planHostilePods = `apiVersion: v1
kind: List
items:
- {kind: Pod, metadata: {name: test-cluster-head-8x2vq, namespace: default, labels: {ray.io/cluster: test-cluster, ray.io/group: small-wg, ray.io/node-type: head}}, status: {phase: Running, podIP: 10.244.0.5}}
- {kind: Pod, metadata: {name: test-cluster-small-wg-worker-x7k2p, namespace: default, labels: {ray.io/cluster: test-cluster, ray.io/group: small-wg, ray.io/node-type: worker}}, status: {phase: Running, podIP: 10.244.0.6}}
- {kind: Pod, metadata: {name: coredns-abc, namespace: kube-system, labels: {ray.io/cluster: test-cluster, ray.io/group: small-wg, ray.io/node-type: worker}}, status: {phase: Running}}
- {kind: Pod, metadata: {name: ../../other, namespace: default, labels: {ray.io/cluster: test-cluster, ray.io/group: small-wg, ray.io/node-type: worker}}, status: {phase: Running}}
`

// Only names that are worker pods of the group may ever be proposed for
// deletion: never the head, another namespace's pod or a path, and without
// --pods no name at all.
func TestPlanNamesOnlyVerifiedPods(t *testing.T) {
	rc1 := planFixture("raycluster-one-worker.json")
	state := writeFile(t, "state.json", planHostileState)

	res := runPlanOK(t, "-f", rc1, "--ray-state", state)
	if len(res.Terminate) != 0 {
		t.Errorf("without --pods: terminate %+v", res.Terminate)
	}
	// The head (no head resource) and coredns-abc have valid names and
	// count; the others cannot be pods at all.
	if want := map[string]int{"small-wg": 3}; !maps.Equal(res.UnnamedTerminations, want) || res.Replicas["small-wg"] != 0 {
		t.Errorf("without --pods: unnamed %v, replicas %v", res.UnnamedTerminations, res.Replicas)
	}
	out, _ := json.Marshal(res)
	for _, name := range []string{"kube-system/coredns-abc", "../../other", "test-cluster-head-8x2vq", "x7k2p"} {
		if strings.Contains(string(out), name) {
			t.Errorf("without --pods the output names %s: %s", name, out)
		}
	}

	res = runPlanOK(t, "-f", rc1, "--ray-state", state, "--pods", writeFile(t, "pods.yaml", planHostilePods))
	type term struct{ pod, group string }
	var got []term
	for _, x := range res.Terminate {
		got = append(got, term{x.Pod, x.Group})
	}
	if want := []term{{"test-cluster-small-wg-worker-x7k2p", "small-wg"}}; !reflect.DeepEqual(got, want) || len(res.UnnamedTerminations) != 0 {
		t.Errorf("with --pods: terminate %v, unnamed %v; want %v", got, res.UnnamedTerminations, want)
	}
	for _, note := range []string{`ignored 1 pod with an invalid pod name: "../../other"`, "ignored 1 pod outside namespace default: kube-system/coredns-abc"} {
		if !slices.Contains(res.Notes, note) {
			t.Errorf("notes %q lack %q", res.Notes, note)
		}
	}
}

// A round that decides on part of the demand says so offline too.
func TestPlanTruncatedDemand(t *testing.T) {
	// A thousand busy workers, each with a different amount of free memory,
	// and thousands of distinct request shapes.
	rcFile := planOneWorkerClusterWith(t, func(wg map[string]any) { wg["maxReplicas"], wg["replicas"] = 100000, 1000 })
	var b strings.Builder
	b.WriteString(`{"nodeStates": [`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"nodeId": "%s", "instanceId": "w-%d", "rayNodeTypeName": "small-wg", "status": "RUNNING",
			"totalResources": {"CPU": 2, "memory": 4294967296}, "availableResources": {"CPU": 2, "memory": %d}}`,
			base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(i))), i, 4294967296-i)
	}
	b.WriteString(`], "pendingResourceRequests": [`)
	for i := range 5000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"request": {"resourcesBundle": {"CPU": 1, "memory": %d}}, "count": 1}`, 1000+i)
	}
	b.WriteString(`]}`)
	res := runPlanOK(t, "-f", rcFile, "--ray-state", writeFile(t, "state.json", b.String()))
	if res.Truncated == nil || res.Truncated.ShapesTotal != 5000 || res.Truncated.Shapes >= 5000 || res.Truncated.Shapes < 1 {
		t.Fatalf("truncated %+v", res.Truncated)
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool {
		return strings.HasPrefix(n, fmt.Sprintf("decided on %d of 5000", res.Truncated.Shapes))
	}) {
		t.Errorf("notes %q", res.Notes)
	}
}

// `raypilot plan` decides as the scaler does (scaler.Decide): a worker the
// RayCluster already lists in workersToDelete is going away and is not
// proposed for termination again, and the plan printed is the one
// scaler.Decide makes from the same inputs.
func TestPlanIsTheScalersDecision(t *testing.T) {
	rcFile := planOneWorkerClusterWith(t, func(wg map[string]any) {
		wg["replicas"] = 0
		wg["scaleStrategy"] = map[string]any{"workersToDelete": []string{"test-cluster-small-wg-worker-x7k2p"}}
	})
	args := []string{"-f", rcFile, "--ray-state", planFixture("state-idle-31s.json"), "--pods", planFixture("pods.json"),
		"--now", "2024-01-01T00:10:00Z"}

	res := runPlanOK(t, args...)
	if len(res.Terminate) != 0 || len(res.UnnamedTerminations) != 0 {
		t.Errorf("terminate %v, unnamed %v: the worker is listed for deletion already", res.Terminate, res.UnnamedTerminations)
	}
	// Its pod no longer counts, as the engine counts pods.
	if want := (planGroup{Name: "small-wg", Max: 5}); len(res.Groups) != 1 || res.Groups[0] != want {
		t.Errorf("groups %+v, want %+v", res.Groups, want)
	}

	rc, err := planReadRayCluster(rcFile, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := planReadState(planFixture("state-idle-31s.json"))
	if err != nil {
		t.Fatal(err)
	}
	pods, err := planReadPods(planFixture("pods.json"))
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, "2024-01-01T00:10:00Z")
	d, err := scaler.Decide(rc, defaults.DefaultPolicy(), st, pods, now)
	if err != nil {
		t.Fatal(err)
	}
	view, err := scaler.ClusterFor(rc, defaults.DefaultPolicy())
	if err != nil {
		t.Fatal(err)
	}
	want := planToOutput(d, view, rc, pods, true)
	if !reflect.DeepEqual(res.Replicas, want.Replicas) || !reflect.DeepEqual(res.Decisions, want.Decisions) || !reflect.DeepEqual(res.Launch, want.Launch) {
		t.Errorf("raypilot plan: replicas %v, decisions %q, launch %v; scaler.Decide: %v, %q, %v",
			res.Replicas, res.Decisions, res.Launch, want.Replicas, want.Decisions, want.Launch)
	}
}

// planOneWorkerClusterWith writes the fixture raycluster-one-worker.json
// with its worker group changed by edit, and returns the file's path.
func planOneWorkerClusterWith(t *testing.T, edit func(group map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(planFixture("raycluster-one-worker.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rc map[string]any
	if err := json.Unmarshal(raw, &rc); err != nil {
		t.Fatal(err)
	}
	edit(rc["spec"].(map[string]any)["workerGroupSpecs"].([]any)[0].(map[string]any))
	out, err := json.Marshal(rc)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "rc.json", string(out))
}

// -o yaml is the JSON document as YAML, -o text the same plan for people;
// without -o stored inputs print JSON, as scripts have always read them.
func TestPlanOutputFormats(t *testing.T) {
	args := []string{"plan", "-f", planFixture("raycluster.yaml"), "--ray-state", planFixture("state-demand-12cpu.json")}
	_, asJSON, _ := runCLI(t, "", args...)
	code, asYAML, errOut := runCLI(t, "", append(args, "-o", "yaml")...)
	if code != 0 || errOut != "" {
		t.Fatalf("-o yaml: exit %d, stderr %q", code, errOut)
	}
	var fromJSON, fromYAML any
	if err := json.Unmarshal([]byte(asJSON), &fromJSON); err != nil {
		t.Fatalf("default output is not JSON: %v\n%s", err, asJSON)
	}
	if err := yaml.Unmarshal([]byte(asYAML), &fromYAML); err != nil || !reflect.DeepEqual(fromJSON, fromYAML) {
		t.Errorf("-o yaml (%v) is not the JSON document:\n%s\n%s", err, asYAML, asJSON)
	}
	code, text, errOut := runCLI(t, "", append(args, "-o", "text")...)
	if code != 0 || errOut != "" {
		t.Fatalf("-o text: exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"GROUP     REPLICAS  MIN  MAX  DESIRED  PODS  LAUNCH  TERMINATE\nsmall-wg  0         0    5    5        0     5       0\n",
		"Pending demand: 12 × {CPU: 1}\n",
		"Infeasible: 2 × {CPU: 1}\n",
		"  small-wg 0→5: 10 pending requests {CPU: 1}\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("-o text lacks %q:\n%s", want, text)
		}
	}
}
