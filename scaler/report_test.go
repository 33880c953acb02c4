package scaler

import (
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
					// Ray's own details string goes back, as Ray's autoscaler does.
					{Details: "0a1b:STRICT_PACK|PENDING", Requests: []*rpcpb.ResourceRequest{{ResourcesBundle: big}, {ResourcesBundle: big}}},
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
