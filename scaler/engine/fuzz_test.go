package engine

import (
	"encoding/json"
	"reflect"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
)

// FuzzDecide builds arbitrary inputs from the fuzzer's bytes: Decide must not
// panic, must keep the plan invariants and must be deterministic.
func FuzzDecide(f *testing.F) {
	for _, seed := range [][]byte{
		{}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, []byte("a longer seed that walks many branches of the generator"),
		{255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, s, pods := genInput(&byteEntropy{b: data})
		p := Decide(c, s, pods, t0)
		if err := checkPlan(c, s, pods, p); err != nil {
			t.Fatal(err)
		}
		if p2 := Decide(c, s, pods, t0); !reflect.DeepEqual(p, p2) {
			t.Fatal("nondeterministic plan")
		}
	})
}

// FuzzNodeTypesFromRayCluster feeds arbitrary RayCluster JSON to the config
// reader: no panic, and a derived cluster always has sane groups.
func FuzzNodeTypesFromRayCluster(f *testing.F) {
	for _, seed := range []string{
		`{"spec":{"headGroupSpec":{"rayStartParams":{"num-cpus":"0"}},"workerGroupSpecs":[{"groupName":"w","minReplicas":1,"maxReplicas":3,"numOfHosts":2,"template":{"spec":{"containers":[{"name":"r","resources":{"limits":{"cpu":"500m","nvidia.com/gpu":"1","memory":"1Gi"}}}]}}}]}}`,
		`{"spec":{"headGroupSpec":{"rayStartParams":{"num-cpus":"1","resources":"'{\"TPU\": 4}'"}},"workerGroupSpecs":[{"groupName":"t","resources":{"cpu":"2","google.com/tpu":"4","x":"0.5"},"template":{"spec":{"nodeSelector":{"cloud.google.com/gke-tpu-topology":"2x2","cloud.google.com/gke-tpu-accelerator":"tpu-v6e-slice"},"containers":[{"name":"r"}]}}}]}}`,
		`{"spec":{"autoscalerOptions":{"idleTimeoutSeconds":-5,"upscalingMode":"Conservative"},"headGroupSpec":{"rayStartParams":{"num-cpus":"x"}}}}`,
		`{}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data string) {
		var rc rayv1.RayCluster
		if json.Unmarshal([]byte(data), &rc) != nil {
			return
		}
		c, err := NodeTypesFromRayCluster(&rc)
		if err != nil {
			return
		}
		if c.IdleTimeout < 0 || len(c.Groups) != len(rc.Spec.WorkerGroupSpecs) {
			t.Fatalf("cluster %+v", c)
		}
		for _, g := range c.Groups {
			if _, ok := g.Resources["CPU"]; !ok || g.Hosts() < 1 {
				t.Fatalf("group %+v", g)
			}
		}
		_ = Decide(c, State{}, nil, t0)
	})
}
