package engine_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// FuzzDecideFromRay feeds the decision path the scaler runs, from the wire
// up: an arbitrary RayCluster (JSON, through scaler.ClusterFor with a fuzzed
// limits.maxWorkersPerCluster) and an arbitrary ClusterResourceState (Ray's
// protobuf bytes, through scaler.StateFromProto), plus pods derived from the
// state's nodes and fuzzed bytes (running, deleting, already listed, or of a
// group nobody declared). Decide must not panic, must be deterministic and
// must keep the plan invariants of CheckPlan: every group's replicas within
// [minReplicas, maxReplicas], launches only for declared groups,
// terminations only of known, live pods of that group, idle terminations
// only after the timeout.
func FuzzDecideFromRay(f *testing.F) {
	clusters := []string{
		`{"metadata":{"name":"c"},"spec":{"headGroupSpec":{"rayStartParams":{"num-cpus":"0"}},"workerGroupSpecs":[{"groupName":"small-wg","replicas":1,"minReplicas":0,"maxReplicas":5,"template":{"spec":{"containers":[{"name":"r","resources":{"limits":{"cpu":"1"}}}]}}}]}}`,
		`{"spec":{"autoscalerOptions":{"idleTimeoutSeconds":1,"upscalingMode":"Conservative"},"workerGroupSpecs":[{"groupName":"g","replicas":3,"minReplicas":2,"maxReplicas":1,"numOfHosts":2,"resources":{"CPU":"2","GPU":"1"},"template":{}},{"groupName":"g","minReplicas":1,"maxReplicas":3,"template":{}}]}}`,
		`{"spec":{"workerGroupSpecs":[{"groupName":"tpu","replicas":-1,"minReplicas":-3,"maxReplicas":2,"idleTimeoutSeconds":0,"resources":{"TPU":"4"},"template":{}}]}}`,
	}
	states := []*rpcpb.ClusterResourceState{
		{},
		{
			NodeStates: []*rpcpb.NodeState{
				{NodeId: []byte{1}, InstanceId: "c-head", RayNodeTypeName: "headgroup", Status: rpcpb.NodeStatus_RUNNING, TotalResources: map[string]float64{"CPU": 0}},
				{NodeId: []byte{2}, InstanceId: "c-small-wg-a", RayNodeTypeName: "small-wg", Status: rpcpb.NodeStatus_IDLE, IdleDurationMs: 120000,
					TotalResources: map[string]float64{"CPU": 1}, AvailableResources: map[string]float64{"CPU": 1}},
			},
			PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 3}},
			PendingGangResourceRequests: []*rpcpb.GangResourceRequest{{Details: "pg:STRICT_SPREAD|PENDING", Requests: []*rpcpb.ResourceRequest{
				{ResourcesBundle: map[string]float64{"CPU": 1}}, {ResourcesBundle: map[string]float64{"CPU": 1}}}}},
			ClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{ResourceRequests: []*rpcpb.ResourceRequestByCount{
				{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"GPU": 1}}, Count: 2}}}},
		},
	}
	for i, c := range clusters {
		for j, s := range states {
			b, err := proto.Marshal(s)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(c, b, []byte{byte(i), byte(j), 7, 200, 3}, uint8(i*3))
		}
	}
	f.Fuzz(func(t *testing.T, clusterJSON string, stateBytes, podBytes []byte, maxWorkers uint8) {
		var rc rayv1.RayCluster
		if json.Unmarshal([]byte(clusterJSON), &rc) != nil {
			return
		}
		var st rpcpb.ClusterResourceState
		if proto.Unmarshal(stateBytes, &st) != nil {
			return
		}
		policy := defaults.DefaultPolicy()
		policy.Limits.MaxWorkersPerCluster = int32(maxWorkers % 32)
		c, err := scaler.ClusterFor(&rc, policy)
		if err != nil {
			return
		}
		s := scaler.StateFromProto(&st)
		pods := podsFor(c, s, podBytes)
		p := engine.Decide(c, s, pods, engine.T0)
		if err := engine.CheckPlan(c, s, pods, p); err != nil {
			t.Fatalf("%v\ncluster %s\nstate %v\npods %+v\nplan %+v", err, clusterJSON, &st, pods, p)
		}
		if p2 := engine.Decide(c, s, pods, engine.T0); !reflect.DeepEqual(p, p2) {
			t.Fatal("nondeterministic plan")
		}
	})
}

// podsFor derives worker pods: one per Ray node with an instance id (the
// pod name KubeRay's Ray nodes report), in a group chosen by the bytes
// (usually the node's own type, sometimes another or an undeclared one),
// then a few pods without a Ray node. Names are unique, as in a namespace.
func podsFor(c engine.Cluster, s engine.State, b []byte) []engine.Pod {
	next := func() int {
		if len(b) == 0 {
			return 0
		}
		v := int(b[0])
		b = b[1:]
		return v
	}
	seen := map[string]bool{}
	var pods []engine.Pod
	add := func(name, group string, bits int) {
		if name == "" || seen[name] {
			return
		}
		seen[name] = true
		pods = append(pods, engine.Pod{Name: name, Group: group, Running: bits&1 == 0, Deleting: bits&6 == 6,
			ListedForDeletion: bits&24 == 24, Created: engine.T0.Add(-time.Duration(bits) * time.Minute)})
	}
	groupOf := func(def string, v int) string {
		switch {
		case v%5 != 0 || len(c.Groups) == 0:
			return def
		case v%2 == 0:
			return "undeclared"
		default:
			return c.Groups[v%len(c.Groups)].Name
		}
	}
	for _, n := range s.Nodes {
		if n.Type == engine.HeadGroupName || n.IsHead() {
			continue
		}
		add(n.InstanceID, groupOf(n.Type, next()), next())
	}
	for i := range next() % 6 {
		g := "undeclared"
		if len(c.Groups) > 0 {
			g = c.Groups[i%len(c.Groups)].Name
		}
		add("extra-"+string(rune('a'+i)), groupOf(g, next()), next())
	}
	return pods
}
