package scaler

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

func TestAutoscalingState(t *testing.T) {
	cpu := map[string]float64{"CPU": 1}
	big := map[string]float64{"CPU": 64}
	gpu := map[string]float64{"GPU": 8}
	seen := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 17,
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{
			gangOf("0a1b", "STRICT_PACK", big, big),
			gangOf("0c0d", "PACK", cpu),
		},
	}
	tests := []struct {
		name string
		plan engine.Plan
		want *rpcpb.AutoscalingState
	}{
		{
			name: "nothing pending",
			plan: engine.Plan{Launch: map[string]int{}, Replicas: map[string]int{"cpu": 1}},
			want: &rpcpb.AutoscalingState{LastSeenClusterResourceStateVersion: 17, AutoscalerStateVersion: 1700000000000},
		},
		{
			name: "launches: one request per group, sorted, none for zero",
			plan: engine.Plan{Launch: map[string]int{"gpu": 2, "cpu": 3, "mem": 0}},
			want: &rpcpb.AutoscalingState{
				LastSeenClusterResourceStateVersion: 17,
				AutoscalerStateVersion:              1700000000000,
				PendingInstanceRequests: []*rpcpb.PendingInstanceRequest{
					{RayNodeTypeName: "cpu", InstanceTypeName: "cpu", Count: 3},
					{RayNodeTypeName: "gpu", InstanceTypeName: "gpu", Count: 2},
				},
			},
		},
		{
			name: "infeasible requests, gangs and constraints",
			plan: engine.Plan{Infeasible: engine.Infeasible{
				Requests: []engine.ShapeCount{
					{Request: engine.Request{Resources: big}, Count: 2},
					{Request: engine.Request{Resources: gpu}, Count: 1},
				},
				Gangs: []engine.Gang{
					{ID: "0a1b", Strategy: engine.StrictPack, Bundles: []engine.Request{{Resources: big}, {Resources: big}}},
					{ID: "gang-7", Strategy: engine.Pack, Bundles: []engine.Request{{Resources: gpu}}},
				},
				Constraints: []engine.Constraint{{Bundles: []engine.ShapeCount{
					{Request: engine.Request{Resources: big}, Count: 3},
					{Request: engine.Request{Resources: cpu}, Count: 1},
				}}},
			}},
			want: &rpcpb.AutoscalingState{
				LastSeenClusterResourceStateVersion: 17,
				AutoscalerStateVersion:              1700000000000,
				InfeasibleResourceRequests: []*rpcpb.ResourceRequest{
					{ResourcesBundle: big}, {ResourcesBundle: big}, {ResourcesBundle: gpu},
				},
				InfeasibleGangResourceRequests: []*rpcpb.GangResourceRequest{
					// The placement group goes back as the GCS sent it, as Ray's
					// autoscaler reports it.
					gangOf("0a1b", "STRICT_PACK", big, big),
					{Details: "gang-7", Requests: []*rpcpb.ResourceRequest{{ResourcesBundle: gpu}}},
				},
				InfeasibleClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{
					ResourceRequests: []*rpcpb.ResourceRequestByCount{
						{Request: &rpcpb.ResourceRequest{ResourcesBundle: big}, Count: 3},
						{Request: &rpcpb.ResourceRequest{ResourcesBundle: cpu}, Count: 1},
					},
				}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := autoscalingState(seen, tc.plan, 1700000000000)
			if !proto.Equal(got, tc.want) {
				t.Errorf("\n got %v\nwant %v", got, tc.want)
			}
		})
	}
}

// TestAutoscalingStateRoundTrip: what StateFromProto reads, the engine finds
// infeasible and the report carries back is the placement group Ray sent.
func TestAutoscalingStateRoundTrip(t *testing.T) {
	seen := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 3,
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{gangOf("beef", "STRICT_SPREAD", map[string]float64{"CPU": 1})},
	}
	gangs := StateFromProto(seen).Gangs
	st := autoscalingState(seen, engine.Plan{Infeasible: engine.Infeasible{Gangs: gangs}}, 4)
	if got := st.GetInfeasibleGangResourceRequests(); len(got) != 1 || got[0].GetDetails() != "beef:STRICT_SPREAD|PENDING" {
		t.Errorf("infeasible gangs = %v, want the one Ray sent", got)
	}
}

func TestAutoscalingStateNilSeen(t *testing.T) {
	st := autoscalingState(nil, engine.Plan{Launch: map[string]int{"cpu": 1}}, 5)
	if st.GetLastSeenClusterResourceStateVersion() != 0 || st.GetAutoscalerStateVersion() != 5 || len(st.GetPendingInstanceRequests()) != 1 {
		t.Errorf("got %v", st)
	}
}

// TestAutoscalingStateReportsRaysMessages: infeasible demand goes back as
// the GCS's own messages, label selectors, bundle_selectors and placement
// constraints included, one resource request per pending unit.
func TestAutoscalingStateReportsRaysMessages(t *testing.T) {
	one := map[string]float64{"CPU": 1}
	a100 := &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"GPU": 1}, LabelSelectors: []*rpcpb.LabelSelector{accelIn("A100")}}
	gang := withBundleSelectors(gangOf("0a1b", "STRICT_SPREAD", one, one), accelIn("A100"), nil)
	con := &rpcpb.ClusterResourceConstraint{ResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: a100, Count: 2}}}
	seen := &rpcpb.ClusterResourceState{
		PendingResourceRequests:     []*rpcpb.ResourceRequestByCount{{Request: a100, Count: 3}},
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{gang},
		ClusterResourceConstraints:  []*rpcpb.ClusterResourceConstraint{con},
	}
	state := StateFromProto(seen)
	plan := engine.Plan{Infeasible: engine.Infeasible{Requests: state.Pending, Gangs: state.Gangs, Constraints: state.Constraints}}
	st := autoscalingState(seen, plan, 1)
	if got := st.GetInfeasibleResourceRequests(); len(got) != 3 || !proto.Equal(got[0], a100) || !proto.Equal(got[2], a100) {
		t.Errorf("infeasible requests = %v, want 3 × the GCS's request with its label selector", got)
	}
	if got := st.GetInfeasibleGangResourceRequests(); len(got) != 1 || !proto.Equal(got[0], gang) {
		t.Errorf("infeasible gangs = %v, want the GCS's gang with its bundle_selectors", got)
	}
	if got := st.GetInfeasibleClusterResourceConstraints(); len(got) != 1 || !proto.Equal(got[0], con) {
		t.Errorf("infeasible constraints = %v, want the GCS's constraint", got)
	}
}

// TestAutoscalingStateBounded: a backlog of millions of one shape does not
// make a report of millions of entries, and launch counts saturate.
func TestAutoscalingStateBounded(t *testing.T) {
	plan := engine.Plan{
		Launch:     map[string]int{"cpu": 1 << 40},
		Infeasible: engine.Infeasible{Requests: []engine.ShapeCount{{Request: engine.Request{Resources: map[string]float64{"CPU": 64}}, Count: 5_000_000}}},
	}
	st := autoscalingState(&rpcpb.ClusterResourceState{}, plan, 1)
	if n := len(st.GetInfeasibleResourceRequests()); n != maxReportedInfeasible {
		t.Errorf("%d infeasible entries, want the bound %d", n, maxReportedInfeasible)
	}
	if c := st.GetPendingInstanceRequests()[0].GetCount(); c != 1<<31-1 {
		t.Errorf("launch count %d, want it saturated at MaxInt32", c)
	}
}

func TestInfeasibleTextBounded(t *testing.T) {
	var inf engine.Infeasible
	for i := range 1000 {
		inf.Requests = append(inf.Requests, engine.ShapeCount{Request: engine.Request{Resources: map[string]float64{"CPU": float64(100 + i)}}, Count: 1})
	}
	text := infeasibleText(inf)
	if len(text) > 400 || !strings.Contains(text, "995 more shapes") {
		t.Errorf("Event text of %d bytes: %q; want 5 shapes and a count of the rest", len(text), text)
	}
}

// Counted nouns in Event texts agree with their count.
func TestEventTextGrammar(t *testing.T) {
	shapes := func(n int) []engine.ShapeCount {
		var out []engine.ShapeCount
		for i := range n {
			out = append(out, engine.ShapeCount{Request: engine.Request{Resources: map[string]float64{"CPU": float64(100 + i)}}, Count: 1})
		}
		return out
	}
	for _, c := range []struct {
		inf  engine.Infeasible
		want string
	}{
		{engine.Infeasible{Requests: shapes(maxEventShapes + 1), Gangs: make([]engine.Gang, 1), Constraints: make([]engine.Constraint, 1)},
			"1 more shape, 1 placement group, 1 request_resources constraint"},
		{engine.Infeasible{Requests: shapes(maxEventShapes + 2), Gangs: make([]engine.Gang, 2), Constraints: make([]engine.Constraint, 2)},
			"2 more shapes, 2 placement groups, 2 request_resources constraints"},
	} {
		if got := infeasibleText(c.inf); !strings.HasSuffix(got, c.want) {
			t.Errorf("%q, want it to end in %q", got, c.want)
		}
	}
	for n, want := range map[int]string{0: "0 pods", 1: "1 pod", 2: "2 pods"} {
		if got := plural(n, "pod"); got != want {
			t.Errorf("plural(%d) = %q, want %q", n, got, want)
		}
	}
}
