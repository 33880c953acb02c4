package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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
	Replicas  map[string]int `json:"replicas"`
	Decisions []string       `json:"decisions"`
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
	for what, v := range map[string]any{"launch": raw["launch"], "terminate": raw["terminate"], "replicas": raw["replicas"], "infeasible.requests": inf["requests"]} {
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
		infeasible int // pending {CPU: 1} requests left over
	}{
		{
			name:     "pending request launches a worker",
			args:     []string{"--raycluster", rc, "--ray-state", planFixture("state-pending.json"), "--now", "2024-01-01T00:10:00Z"},
			launch:   map[string]int{"small-wg": 1},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:     "GetClusterResourceStateReply",
			args:     []string{"--raycluster", rc, "--ray-state", planFixture("reply-pending.json")},
			launch:   map[string]int{"small-wg": 1},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:      "idle 31s with pods",
			args:      []string{"--raycluster", rc1, "--ray-state", planFixture("state-idle-31s.json"), "--pods", planFixture("pods.json")},
			launch:    map[string]int{},
			replicas:  map[string]int{"small-wg": 0},
			terminate: []term{{worker, "IDLE"}},
		},
		{
			name:      "idle 31s, pods from the state",
			args:      []string{"--raycluster", rc1, "--ray-state", planFixture("state-idle-31s.json")},
			launch:    map[string]int{},
			replicas:  map[string]int{"small-wg": 0},
			terminate: []term{{worker, "IDLE"}},
		},
		{
			name:     "idle exactly 30s is kept",
			args:     []string{"--raycluster", rc1, "--ray-state", planFixture("state-idle-30s.json"), "--pods", planFixture("pods.json")},
			launch:   map[string]int{},
			replicas: map[string]int{"small-wg": 1},
		},
		{
			name:       "12 CPUs of demand, maxReplicas 5",
			args:       []string{"--raycluster", rc, "--ray-state", planFixture("state-demand-12cpu.json")},
			launch:     map[string]int{"small-wg": 5},
			replicas:   map[string]int{"small-wg": 5},
			infeasible: 2,
		},
		{
			name:       "12 CPUs of demand, maxWorkersPerCluster 2",
			args:       []string{"--raycluster", rc, "--ray-state", planFixture("state-demand-12cpu.json"), "--policy", planFixture("policy-max2.yaml")},
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
			if changed := len(tc.launch) > 0 || len(tc.terminate) > 0; changed != (len(res.Decisions) > 0) {
				t.Errorf("decisions %q", res.Decisions)
			}
		})
	}
	res := runPlanOK(t, "--raycluster", rc, "--ray-state", planFixture("state-pending.json"))
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
		{"missing RayCluster file", []string{"--raycluster", "/no/such/raycluster.yaml", "--ray-state", state}, 1, "/no/such/raycluster.yaml"},
		{"missing state file", []string{"--raycluster", rc, "--ray-state", "/no/such/state.json"}, 1, "/no/such/state.json"},
		{"missing pods file", []string{"--raycluster", rc, "--ray-state", state, "--pods", "/no/such/pods.json"}, 1, "/no/such/pods.json"},
		{"bad protojson", []string{"--raycluster", rc, "--ray-state", planFixture("state-bad.json")}, 1, "state-bad.json"},
		{"not JSON at all", []string{"--raycluster", rc, "--ray-state", rc}, 1, "raycluster.yaml"},
		{"bad YAML", []string{"--raycluster", writeFile(t, "bad.yaml", "spec: [\n"), "--ray-state", state}, 1, "bad.yaml"},
		{"no CPU count", []string{"--raycluster", noCPU, "--ray-state", state}, 1, "nocpu.yaml"},
		{"bad policy", []string{"--raycluster", rc, "--ray-state", state, "--policy", writeFile(t, "policy.yaml", "limits: {maxWorkersPerCluster: -1}")}, 1, "policy.yaml"},
		{"missing --ray-state", []string{"--raycluster", rc}, 2, "usage"},
		{"missing --raycluster", []string{"--ray-state", state}, 2, "usage"},
		{"bad --now", []string{"--raycluster", rc, "--ray-state", state, "--now", "yesterday"}, 2, "--now"},
		{"unknown flag", []string{"--raycluster", rc, "--ray-state", state, "--frobnicate"}, 2, "frobnicate"},
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
