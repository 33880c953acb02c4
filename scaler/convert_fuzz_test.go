package scaler

import (
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// fuzzStates are the seeds of the conversion fuzz targets: what Ray sends
// (nodes with static and dynamic labels, pending shapes, placement groups
// with their bundles in bundle_selectors carrying label selectors, the
// legacy requests field, request_resources constraints) and what it should
// not (counts of zero and below, an idle time that overflows a Duration,
// placement groups without bundles or details, an unknown operator).
func fuzzStates() []*rpcpb.ClusterResourceState {
	sel := func(key string, op rpcpb.LabelSelectorOperator, values ...string) *rpcpb.LabelSelector {
		return &rpcpb.LabelSelector{LabelConstraints: []*rpcpb.LabelSelectorConstraint{{LabelKey: key, Operator: op, LabelValues: values}}}
	}
	gpu := &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"GPU": 1, "CPU": 2},
		LabelSelectors: []*rpcpb.LabelSelector{sel("ray.io/accelerator-type", rpcpb.LabelSelectorOperator_LABEL_OPERATOR_IN, "A100", "H100")}}
	strict := gangOf("0a1b", "STRICT_SPREAD", map[string]float64{"CPU": 1}, map[string]float64{"CPU": 1})
	strict.BundleSelectors = []*rpcpb.BundleSelector{{}, {ResourceRequests: []*rpcpb.ResourceRequest{
		{ResourcesBundle: map[string]float64{"CPU": 1}, LabelSelectors: []*rpcpb.LabelSelector{sel("zone", rpcpb.LabelSelectorOperator_LABEL_OPERATOR_NOT_IN, "a")}},
		{ResourcesBundle: map[string]float64{"CPU": 1}, PlacementConstraints: strict.Requests[0].PlacementConstraints},
	}}}
	worker := idleWorker(2, "rc-wg-a", "10.0.0.3")
	worker.DynamicLabels = map[string]string{"_PG_0a1b": "", "ray.io/node-group": "override"}
	worker.Labels = map[string]string{"ray.io/node-group": "wg", "zone": "a"}
	return []*rpcpb.ClusterResourceState{
		{},
		{
			ClusterResourceStateVersion: 3,
			NodeStates:                  []*rpcpb.NodeState{gcsfake.HeadNode(rayNodeID(1), "rc-head", "10.0.0.2"), worker, idleWorker(3, "rc-wg-b", "10.0.0.4")},
			PendingResourceRequests:     []*rpcpb.ResourceRequestByCount{{Request: gpu, Count: 3}, {Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}, Count: 1}},
			PendingGangResourceRequests: []*rpcpb.GangResourceRequest{strict, gangOf("", "PACK", map[string]float64{"CPU": 1}), gangOf("ffff", "STRICT_PACK", map[string]float64{"CPU": 4})},
			ClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{ResourceRequests: []*rpcpb.ResourceRequestByCount{
				{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 8}}}},
		},
		{
			NodeStates: []*rpcpb.NodeState{{NodeId: []byte{9}, InstanceId: "rc-wg-c", RayNodeTypeName: "wg", Status: rpcpb.NodeStatus_IDLE, IdleDurationMs: math.MaxInt64}},
			PendingResourceRequests: []*rpcpb.ResourceRequestByCount{
				{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 0},
				{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: -5},
				{Request: &rpcpb.ResourceRequest{LabelSelectors: []*rpcpb.LabelSelector{sel("k", 7, "v")}}, Count: math.MaxInt64}},
			PendingGangResourceRequests: []*rpcpb.GangResourceRequest{{Details: "dead:PACK|PENDING"}, {Details: "no-colon"}},
			ClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{ResourceRequests: []*rpcpb.ResourceRequestByCount{
				{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 0}}}},
		},
	}
}

func addStateSeeds(f *testing.F) {
	for _, st := range fuzzStates() {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(st)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzStateFromProto checks StateFromProto on whatever decodes as a
// ClusterResourceState: it does not panic or change its input; every node
// comes out once with its id, resources and labels (dynamic over static)
// and an idle time that is never negative or wrapped; every request comes
// from an input request with a positive count, with its resources and
// label selectors (which survive the report's way back to Ray); every
// placement group with bundles comes out once, under one key that is its
// placement group id (or a made-up one), with the bundles the GCS put in
// bundle_selectors (else requests) and the strategy its constraints say;
// and the output is no larger than the input.
func FuzzStateFromProto(f *testing.F) {
	addStateSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		st := &rpcpb.ClusterResourceState{}
		if proto.Unmarshal(b, st) != nil {
			return
		}
		before := proto.Clone(st)
		out := StateFromProto(st)
		if !proto.Equal(before, st) {
			t.Fatal("StateFromProto changed its input")
		}
		checkNodes(t, out.Nodes, st.GetNodeStates())
		checkShapeCounts(t, "pending", out.Pending, st.GetPendingResourceRequests())
		if len(out.Constraints) != len(st.GetClusterResourceConstraints()) {
			t.Fatalf("%d constraints out of %d", len(out.Constraints), len(st.GetClusterResourceConstraints()))
		}
		for i, c := range out.Constraints {
			checkShapeCounts(t, fmt.Sprintf("constraint %d", i), c.Bundles, st.GetClusterResourceConstraints()[i].GetResourceRequests())
		}
		checkGangs(t, out.Gangs, st)
	})
}

// FuzzDecideOnRayState runs Decide, and the report built from its plan, on
// whatever decodes as a ClusterResourceState: neither panics nor changes
// the state (the report maps the plan back to the GCS's own messages), the
// plan names only the cluster's worker pods and groups and keeps the
// replicas within each group's bounds.
func FuzzDecideOnRayState(f *testing.F) {
	addStateSeeds(f)
	rc := twoGroupCluster()
	pods := twoIdleWorkerPods()
	bounds := map[string][2]int{}
	for _, g := range rc.Spec.WorkerGroupSpecs {
		bounds[g.GroupName] = [2]int{int(*g.MinReplicas), int(*g.MaxReplicas)}
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		st := &rpcpb.ClusterResourceState{}
		if proto.Unmarshal(b, st) != nil {
			return
		}
		before := proto.Clone(st)
		d, err := Decide(rc, defaults.DefaultPolicy(), st, pods, now)
		if err != nil {
			t.Fatal(err)
		}
		_ = autoscalingState(st, d.Plan, 1)
		if !proto.Equal(before, st) {
			t.Fatal("deciding and reporting changed the Ray state")
		}
		for _, term := range d.Plan.Terminate {
			if term.Pod != "rc-wg-a" && term.Pod != "rc-wg-b" {
				t.Errorf("terminates %q, not a worker pod of the cluster", term.Pod)
			}
		}
		for g := range d.Plan.Launch {
			if _, ok := bounds[g]; !ok {
				t.Errorf("launches in %q, not a worker group", g)
			}
		}
		for g, n := range d.Plan.Replicas {
			if b, ok := bounds[g]; !ok || n < b[0] || n > b[1] {
				t.Errorf("replicas %s=%d, bounds %v", g, n, b)
			}
		}
	})
}

func checkNodes(t *testing.T, got []engine.Node, in []*rpcpb.NodeState) {
	t.Helper()
	if len(got) != len(in) {
		t.Fatalf("%d nodes out of %d", len(got), len(in))
	}
	for i, n := range in {
		g := got[i]
		if g.ID != hex.EncodeToString(n.GetNodeId()) || g.InstanceID != n.GetInstanceId() || g.Type != n.GetRayNodeTypeName() ||
			g.IP != n.GetNodeIpAddress() || int32(g.Status) != int32(n.GetStatus()) {
			t.Errorf("node %d: %+v from %v", i, g, n)
		}
		if !sameAmounts(g.Total, n.GetTotalResources()) || !sameAmounts(g.Available, n.GetAvailableResources()) {
			t.Errorf("node %d: resources %v/%v from %v/%v", i, g.Total, g.Available, n.GetTotalResources(), n.GetAvailableResources())
		}
		if len(g.Labels) > len(n.GetLabels())+len(n.GetDynamicLabels()) {
			t.Errorf("node %d: %d labels out of %d", i, len(g.Labels), len(n.GetLabels())+len(n.GetDynamicLabels()))
		}
		for k, v := range n.GetLabels() {
			if _, dyn := n.GetDynamicLabels()[k]; !dyn && g.Labels[k] != v {
				t.Errorf("node %d: label %s=%q, want %q", i, k, g.Labels[k], v)
			}
		}
		for k, v := range n.GetDynamicLabels() {
			if got, ok := g.Labels[k]; !ok || got != v {
				t.Errorf("node %d: dynamic label %s=%q, want %q", i, k, got, v)
			}
		}
		ms := n.GetIdleDurationMs()
		switch {
		case g.Idle < 0:
			t.Errorf("node %d: idle %s from %d ms", i, g.Idle, ms)
		case ms >= 0 && ms <= math.MaxInt64/int64(time.Millisecond) && g.Idle != time.Duration(ms)*time.Millisecond:
			t.Errorf("node %d: idle %s from %d ms", i, g.Idle, ms)
		case ms > math.MaxInt64/int64(time.Millisecond) && g.Idle < time.Duration(math.MaxInt64/int64(time.Millisecond))*time.Millisecond:
			t.Errorf("node %d: idle %s from %d ms: wrapped", i, g.Idle, ms)
		}
	}
}

// checkShapeCounts: got are the requests of in with a positive count, in
// order, each with its count and request.
func checkShapeCounts(t *testing.T, what string, got []engine.ShapeCount, in []*rpcpb.ResourceRequestByCount) {
	t.Helper()
	var want []*rpcpb.ResourceRequestByCount
	for _, r := range in {
		if r.GetCount() > 0 {
			want = append(want, r)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d requests out of %d with a positive count", what, len(got), len(want))
	}
	for i, r := range want {
		if got[i].Count <= 0 || int64(got[i].Count) != r.GetCount() {
			t.Errorf("%s %d: count %d from %d", what, i, got[i].Count, r.GetCount())
		}
		checkRequest(t, fmt.Sprintf("%s %d", what, i), got[i].Request, r.GetRequest())
	}
}

// checkRequest: got has in's resources and label selectors, and survives
// the way back to Ray (requestMessage, as the report sends it).
func checkRequest(t *testing.T, what string, got engine.Request, in *rpcpb.ResourceRequest) {
	t.Helper()
	if !sameAmounts(got.Resources, in.GetResourcesBundle()) {
		t.Errorf("%s: resources %v from %v", what, got.Resources, in.GetResourcesBundle())
	}
	if !sameSelectors(got.Selectors, in.GetLabelSelectors()) {
		t.Errorf("%s: selectors %+v from %v", what, got.Selectors, in.GetLabelSelectors())
	}
	back := requestMessage(got)
	if !sameAmounts(got.Resources, back.GetResourcesBundle()) || !sameSelectors(got.Selectors, back.GetLabelSelectors()) {
		t.Errorf("%s: %+v reported back as %v", what, got, back)
	}
}

// checkGangs: one gang per placement group with bundles, in order, keyed by
// the id before the first ":" of its details (else gang-<position>), with
// the bundles of its first non-empty bundle selector (else of requests).
func checkGangs(t *testing.T, got []engine.Gang, st *rpcpb.ClusterResourceState) {
	t.Helper()
	origin := originsOf(st)
	ids := map[string]int{}
	for i, g := range st.GetPendingGangResourceRequests() {
		ids[wantGangKey(i, g)]++
	}
	n := 0
	for i, g := range st.GetPendingGangResourceRequests() {
		bundles := g.GetRequests()
		if k := slices.IndexFunc(g.GetBundleSelectors(), func(s *rpcpb.BundleSelector) bool { return len(s.GetResourceRequests()) > 0 }); k >= 0 {
			bundles = g.GetBundleSelectors()[k].GetResourceRequests()
		}
		if len(bundles) == 0 {
			continue
		}
		if n == len(got) {
			t.Fatalf("%d gangs out, gang %d missing", len(got), i)
		}
		out := got[n]
		n++
		id := wantGangKey(i, g)
		if out.ID != id {
			t.Errorf("gang %d: key %q, want %q", i, out.ID, id)
		}
		if ids[id] == 1 && origin.gangs[out.ID] != g {
			t.Errorf("gang %d: key %q leads the report to another placement group", i, out.ID)
		}
		if len(out.Bundles) != len(bundles) {
			t.Fatalf("gang %d: %d bundles out of %d", i, len(out.Bundles), len(bundles))
		}
		affinity, anti := false, false
		for j, r := range bundles {
			checkRequest(t, fmt.Sprintf("gang %d bundle %d", i, j), out.Bundles[j], r)
			for _, pc := range r.GetPlacementConstraints() {
				affinity = affinity || pc.GetAffinity() != nil
				anti = anti || pc.GetAntiAffinity() != nil
			}
		}
		want := []engine.Strategy{engine.Pack, engine.Spread}
		switch {
		case affinity && anti:
			want = []engine.Strategy{engine.StrictPack, engine.StrictSpread}
		case affinity:
			want = []engine.Strategy{engine.StrictPack}
		case anti:
			want = []engine.Strategy{engine.StrictSpread}
		}
		if !slices.Contains(want, out.Strategy) {
			t.Errorf("gang %d: strategy %v, want one of %v", i, out.Strategy, want)
		}
	}
	if n != len(got) {
		t.Fatalf("%d gangs out of %d with bundles", len(got), n)
	}
}

// wantGangKey is the key of the i-th placement group: its id, the part of
// the details before the first ":", else gang-<i>.
func wantGangKey(i int, g *rpcpb.GangResourceRequest) string {
	if id, _, _ := strings.Cut(g.GetDetails(), ":"); id != "" {
		return id
	}
	return fmt.Sprintf("gang-%d", i)
}

// sameAmounts compares resource maps bit for bit (NaN equals NaN).
func sameAmounts(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || math.Float64bits(v) != math.Float64bits(w) {
			return false
		}
	}
	return true
}

func sameSelectors(got []engine.LabelSelector, in []*rpcpb.LabelSelector) bool {
	if len(got) != len(in) {
		return false
	}
	for i, sel := range in {
		cs := sel.GetLabelConstraints()
		if len(got[i]) != len(cs) {
			return false
		}
		for j, c := range cs {
			g := got[i][j]
			if g.Key != c.GetLabelKey() || int32(g.Op) != int32(c.GetOperator()) || !slices.Equal(g.Values, c.GetLabelValues()) {
				return false
			}
		}
	}
	return true
}
