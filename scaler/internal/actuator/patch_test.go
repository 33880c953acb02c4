package actuator_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

func ptr[T any](v T) *T { return &v }

// sameJSON decodes both documents and compares them, so the test does not
// depend on key order or whitespace but does see every op, its order, every
// value and the difference between [] and null.
func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("patch is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("patch:\n got %s\nwant %s", compact(t, got), compact(t, []byte(want)))
	}
}

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return string(b)
	}
	out, _ := json.Marshal(v)
	return string(out)
}

func TestPatch(t *testing.T) {
	tests := []struct {
		name    string
		rv      string
		changes []actuator.GroupChange
		want    string // "" means no patch (nil)
	}{
		{
			name: "no changes at all",
			rv:   "7",
		},
		{
			name: "groups without replicas or list changes",
			rv:   "7",
			changes: []actuator.GroupChange{
				{Index: 0, Name: "cpu"},
				{Index: 1, Name: "gpu"},
			},
		},
		{
			name:    "replicas only",
			rv:      "7",
			changes: []actuator.GroupChange{{Index: 0, Name: "cpu"}, {Index: 1, Name: "gpu", Replicas: ptr[int32](3)}},
			want: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
				{"op": "test", "path": "/spec/workerGroupSpecs/1/groupName", "value": "gpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/1/replicas", "value": 3}
			]`,
		},
		{
			name:    "replicas zero is written, not omitted",
			rv:      "7",
			changes: []actuator.GroupChange{{Index: 0, Name: "cpu", Replicas: ptr[int32](0)}},
			want: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 0}
			]`,
		},
		{
			name:    "workersToDelete sorted and de-duplicated",
			rv:      "7",
			changes: []actuator.GroupChange{{Index: 0, Name: "cpu", WorkersToDelete: []string{"cpu-c", "cpu-a", "cpu-c", "cpu-b", "cpu-a"}}},
			want: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-a", "cpu-b", "cpu-c"]}}
			]`,
		},
		{
			name:    "an empty non-nil list clears",
			rv:      "7",
			changes: []actuator.GroupChange{{Index: 2, Name: "mem", WorkersToDelete: []string{}}},
			want: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
				{"op": "test", "path": "/spec/workerGroupSpecs/2/groupName", "value": "mem"},
				{"op": "add", "path": "/spec/workerGroupSpecs/2/scaleStrategy", "value": {"workersToDelete": []}}
			]`,
		},
		{
			name: "several groups: each guarded by its own name test, unchanged ones left out",
			rv:   "12345",
			changes: []actuator.GroupChange{
				{Index: 0, Name: "cpu", Replicas: ptr[int32](1), WorkersToDelete: []string{"cpu-b", "cpu-a"}},
				{Index: 1, Name: "gpu"},
				{Index: 2, Name: "mem", WorkersToDelete: []string{}},
			},
			want: `[
				{"op": "test", "path": "/metadata/resourceVersion", "value": "12345"},
				{"op": "test", "path": "/spec/workerGroupSpecs/0/groupName", "value": "cpu"},
				{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 1},
				{"op": "add", "path": "/spec/workerGroupSpecs/0/scaleStrategy", "value": {"workersToDelete": ["cpu-a", "cpu-b"]}},
				{"op": "test", "path": "/spec/workerGroupSpecs/2/groupName", "value": "mem"},
				{"op": "add", "path": "/spec/workerGroupSpecs/2/scaleStrategy", "value": {"workersToDelete": []}}
			]`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before [][]string
			for _, c := range tc.changes {
				before = append(before, slices.Clone(c.WorkersToDelete))
			}
			got, err := actuator.Patch(tc.rv, tc.changes)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "" {
				if got != nil {
					t.Fatalf("want no patch, got %s", got)
				}
				return
			}
			sameJSON(t, got, tc.want)
			for i, c := range tc.changes {
				if !slices.Equal(c.WorkersToDelete, before[i]) {
					t.Errorf("Patch reordered the caller's list %d: %v, was %v", i, c.WorkersToDelete, before[i])
				}
			}
		})
	}
}

// rayClusterJSON is a RayCluster as the API server returns it: the first
// group has no scaleStrategy at all, the second an old list.
const rayClusterJSON = `{
	"apiVersion": "ray.io/v1",
	"kind": "RayCluster",
	"metadata": {"name": "rc", "namespace": "ml", "resourceVersion": "42"},
	"spec": {
		"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [{"name": "ray-head"}]}}},
		"workerGroupSpecs": [
			{"groupName": "cpu", "replicas": 3, "minReplicas": 0, "maxReplicas": 5,
			 "template": {"spec": {"containers": [{"name": "ray-worker"}]}}},
			{"groupName": "gpu", "replicas": 2, "minReplicas": 1, "maxReplicas": 4,
			 "scaleStrategy": {"workersToDelete": ["gpu-old"]},
			 "template": {"spec": {"containers": [{"name": "ray-worker"}]}}}
		]
	}
}`

// TestPatchAppliesToRayCluster applies Patch's output with a real JSON-patch
// implementation: it works on the document as stored, and its test ops make
// it fail when the object changed since it was read.
func TestPatchAppliesToRayCluster(t *testing.T) {
	changes := []actuator.GroupChange{
		{Index: 0, Name: "cpu", Replicas: ptr[int32](2), WorkersToDelete: []string{"cpu-x"}},
		{Index: 1, Name: "gpu", WorkersToDelete: []string{}},
	}
	swapped := func(doc map[string]any) {
		groups := doc["spec"].(map[string]any)["workerGroupSpecs"].([]any)
		groups[0], groups[1] = groups[1], groups[0]
	}
	tests := []struct {
		name    string
		rv      string
		edit    func(doc map[string]any)
		wantErr bool
	}{
		{name: "unchanged object", rv: "42"},
		{name: "resourceVersion moved on", rv: "41", wantErr: true},
		{name: "groups reordered", rv: "42", edit: swapped, wantErr: true},
		{name: "group renamed", rv: "42", edit: func(doc map[string]any) {
			doc["spec"].(map[string]any)["workerGroupSpecs"].([]any)[0].(map[string]any)["groupName"] = "cpu2"
		}, wantErr: true},
		{name: "group removed", rv: "42", edit: func(doc map[string]any) {
			spec := doc["spec"].(map[string]any)
			spec["workerGroupSpecs"] = spec["workerGroupSpecs"].([]any)[:1]
		}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal([]byte(rayClusterJSON), &doc); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(doc)
			}
			raw, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			p, err := actuator.Patch(tc.rv, changes)
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := jsonpatch.DecodePatch(p)
			if err != nil {
				t.Fatalf("decode %s: %v", p, err)
			}
			out, err := decoded.Apply(raw)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("patch applied to a changed object:\n%s", out)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			var rc rayv1.RayCluster
			if err := json.Unmarshal(out, &rc); err != nil {
				t.Fatal(err)
			}
			cpu, gpu := rc.Spec.WorkerGroupSpecs[0], rc.Spec.WorkerGroupSpecs[1]
			if cpu.Replicas == nil || *cpu.Replicas != 2 {
				t.Errorf("cpu replicas = %v, want 2", cpu.Replicas)
			}
			if !slices.Equal(cpu.ScaleStrategy.WorkersToDelete, []string{"cpu-x"}) {
				t.Errorf("cpu workersToDelete = %q, want [cpu-x]", cpu.ScaleStrategy.WorkersToDelete)
			}
			if *gpu.Replicas != 2 || len(gpu.ScaleStrategy.WorkersToDelete) != 0 {
				t.Errorf("gpu = replicas %d, workersToDelete %q; want 2 and cleared", *gpu.Replicas, gpu.ScaleStrategy.WorkersToDelete)
			}
			if *cpu.MinReplicas != 0 || *cpu.MaxReplicas != 5 || cpu.Template.Spec.Containers[0].Name != "ray-worker" {
				t.Errorf("fields outside replicas and scaleStrategy changed: %+v", cpu)
			}
		})
	}
}
