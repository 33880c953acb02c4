package gcs

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// These tests hand-encode messages with the field numbers and wire types of
// the reference tables, independently of the .proto text, and check that
// the generated types decode them (and encode themselves) the same way.

func cat(fields ...[]byte) []byte { return slices.Concat(fields...) }

func fVarint(num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(nil, num, protowire.VarintType), v)
}

func fInt(num protowire.Number, v int64) []byte { return fVarint(num, uint64(v)) }

func fBytes(num protowire.Number, b []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(nil, num, protowire.BytesType), b)
}

func fString(num protowire.Number, s string) []byte { return fBytes(num, []byte(s)) }

func fMsg(num protowire.Number, fields ...[]byte) []byte { return fBytes(num, cat(fields...)) }

func fDouble(num protowire.Number, v float64) []byte {
	return protowire.AppendFixed64(protowire.AppendTag(nil, num, protowire.Fixed64Type), math.Float64bits(v))
}

// Map entries are messages with the key in field 1 and the value in field 2.
func fMapDouble(num protowire.Number, k string, v float64) []byte {
	return fMsg(num, fString(1, k), fDouble(2, v))
}

func fMapString(num protowire.Number, k, v string) []byte {
	return fMsg(num, fString(1, k), fString(2, v))
}

func fMapUint(num protowire.Number, k string, v uint64) []byte {
	return fMsg(num, fString(1, k), fVarint(2, v))
}

func decode(t *testing.T, b []byte, m proto.Message) {
	t.Helper()
	if err := proto.Unmarshal(b, m); err != nil {
		t.Fatalf("decode %T: %v", m, err)
	}
}

func TestWireDecodeClusterResourceState(t *testing.T) {
	nodeID := testNodeID(3)
	cpu4 := fMapDouble(1, "CPU", 4) // ResourceRequest.resources_bundle
	// LabelSelector.label_constraints[0]: key, operator NOT_IN, values.
	labelSelector := fMsg(1,
		fString(1, "ray.io/zone"), fVarint(2, 2), fString(3, "a"), fString(3, "b"))
	resourceRequest := cat(
		cpu4,
		fMsg(2, fMsg(1, fString(1, "_PG_ab12"), fString(2, ""))), // placement_constraints[0].anti_affinity
		fMsg(2, fMsg(2, fString(1, "_PG_cd34"))),                 // placement_constraints[1].affinity
		fMsg(3, labelSelector),                                   // label_selectors[0]
	)
	wire := cat(
		fInt(1, 42), // cluster_resource_state_version
		fInt(2, 7),  // last_seen_autoscaler_state_version
		fMsg(3, // node_states[0]
			fBytes(1, nodeID), fString(2, "rc-workers-x1"), fString(3, "workers"),
			fMapDouble(4, "CPU", 1.5), fMapDouble(5, "CPU", 4), fMapDouble(5, "node:__internal_head__", 1),
			fMapString(6, "_PG_ab12", ""), fInt(7, 41), fVarint(8, 3), fInt(9, 61000),
			fString(10, "10.0.0.9"), fString(11, "m5.xlarge"), fString(12, "busy: task"), fString(12, "busy: actor"),
			fMapString(13, "ray.io/node-group", "workers"),
		),
		fMsg(3, fBytes(1, testNodeID(4)), fVarint(8, 2)), // node_states[1], DEAD
		fMsg(4, fMsg(1, resourceRequest), fInt(2, 5)),    // pending_resource_requests[0]
		fMsg(5, // pending_gang_resource_requests[0]
			fMsg(1, cpu4), fString(2, "ab12:STRICT_SPREAD|PENDING"), fMsg(3, fMsg(1, cpu4))),
		fMsg(6, fMsg(1, fMsg(1, cpu4), fInt(2, 2))), // cluster_resource_constraints[0]
		fString(7, "session_2025-11-26_10-00-00"),
	)

	cpu4Req := func() *rpcpb.ResourceRequest {
		return &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}
	}
	want := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion:    42,
		LastSeenAutoscalerStateVersion: 7,
		NodeStates: []*rpcpb.NodeState{{
			NodeId:             nodeID,
			InstanceId:         "rc-workers-x1",
			RayNodeTypeName:    "workers",
			AvailableResources: map[string]float64{"CPU": 1.5},
			TotalResources:     map[string]float64{"CPU": 4, "node:__internal_head__": 1},
			DynamicLabels:      map[string]string{"_PG_ab12": ""},
			NodeStateVersion:   41,
			Status:             rpcpb.NodeStatus_IDLE,
			IdleDurationMs:     61000,
			NodeIpAddress:      "10.0.0.9",
			InstanceTypeName:   "m5.xlarge",
			NodeActivity:       []string{"busy: task", "busy: actor"},
			Labels:             map[string]string{"ray.io/node-group": "workers"},
		}, {
			NodeId: testNodeID(4),
			Status: rpcpb.NodeStatus_DEAD,
		}},
		PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{
			Request: &rpcpb.ResourceRequest{
				ResourcesBundle: map[string]float64{"CPU": 4},
				PlacementConstraints: []*rpcpb.PlacementConstraint{
					{AntiAffinity: &rpcpb.AntiAffinityConstraint{LabelName: "_PG_ab12"}},
					{Affinity: &rpcpb.AffinityConstraint{LabelName: "_PG_cd34"}},
				},
				LabelSelectors: []*rpcpb.LabelSelector{{
					LabelConstraints: []*rpcpb.LabelSelectorConstraint{{
						LabelKey:    "ray.io/zone",
						Operator:    rpcpb.LabelSelectorOperator_LABEL_OPERATOR_NOT_IN,
						LabelValues: []string{"a", "b"},
					}},
				}},
			},
			Count: 5,
		}},
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{{
			Requests:        []*rpcpb.ResourceRequest{cpu4Req()},
			Details:         "ab12:STRICT_SPREAD|PENDING",
			BundleSelectors: []*rpcpb.BundleSelector{{ResourceRequests: []*rpcpb.ResourceRequest{cpu4Req()}}},
		}},
		ClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{
			ResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: cpu4Req(), Count: 2}},
		}},
		ClusterSessionName: "session_2025-11-26_10-00-00",
	}

	got := &rpcpb.ClusterResourceState{}
	decode(t, wire, got)
	if !proto.Equal(got, want) {
		t.Fatalf("decoded\n %v\nwant\n %v", got, want)
	}

	// The same bytes wrapped as GetClusterResourceStateReply.cluster_resource_state (1)
	// and GetClusterStatusReply.cluster_resource_state (2).
	reply := &rpcpb.GetClusterResourceStateReply{}
	decode(t, fBytes(1, wire), reply)
	if !proto.Equal(reply.GetClusterResourceState(), want) {
		t.Error("GetClusterResourceStateReply.cluster_resource_state is not field 1")
	}
	status := &rpcpb.GetClusterStatusReply{}
	decode(t, cat(fMsg(1, fInt(2, 99)), fBytes(2, wire)), status)
	if !proto.Equal(status.GetClusterResourceState(), want) || status.GetAutoscalingState().GetAutoscalerStateVersion() != 99 {
		t.Error("GetClusterStatusReply fields do not match 1 autoscaling_state, 2 cluster_resource_state")
	}
}

func TestWireSkipsUnknownFields(t *testing.T) {
	// A newer Ray (or a fork's VirtualClusterState in field 8) adds fields;
	// decoding must keep working and leave the known fields intact.
	wire := cat(
		fInt(1, 3),
		fMsg(3, fString(2, "pod-a"), fString(99, "future"), fInt(100, 1)),
		fMsg(8, fString(1, "virtual cluster")),
		fString(7, "s"),
	)
	got := &rpcpb.ClusterResourceState{}
	decode(t, wire, got)
	if got.GetClusterResourceStateVersion() != 3 || got.GetClusterSessionName() != "s" ||
		len(got.GetNodeStates()) != 1 || got.GetNodeStates()[0].GetInstanceId() != "pod-a" {
		t.Errorf("known fields lost: %v", got)
	}
}

func TestWireDecodeSmallMessages(t *testing.T) {
	drain := &rpcpb.DrainNodeReply{}
	decode(t, cat(fVarint(1, 1), fString(2, "no longer idle")), drain)
	if !drain.GetIsAccepted() || drain.GetRejectionReasonMessage() != "no longer idle" {
		t.Errorf("DrainNodeReply = %v", drain)
	}

	cfg := &rpcpb.ClusterConfig{}
	decode(t, cat(
		fMapUint(1, "CPU", 2), fMapUint(2, "CPU", 64),
		fMsg(3, fMapUint(1, "GPU", 1), fVarint(2, 0), fInt(3, -1), fString(4, "gpu")),
	), cfg)
	want := &rpcpb.ClusterConfig{
		MinResources: map[string]uint64{"CPU": 2},
		MaxResources: map[string]uint64{"CPU": 64},
		NodeGroupConfigs: []*rpcpb.NodeGroupConfig{{
			Resources: map[string]uint64{"GPU": 1}, MaxCount: -1, Name: "gpu",
		}},
	}
	if !proto.Equal(cfg, want) {
		t.Errorf("ClusterConfig = %v, want %v", cfg, want)
	}
}

// wireField is one top-level field of an encoded message.
type wireField struct {
	num   protowire.Number
	typ   protowire.Type
	value string // varint as decimal, bytes as %q
}

func parseFields(t *testing.T, b []byte) []wireField {
	t.Helper()
	var out []wireField
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		var v string
		switch typ {
		case protowire.VarintType:
			x, m := protowire.ConsumeVarint(b)
			n, v = m, fmt.Sprint(x)
		case protowire.BytesType:
			x, m := protowire.ConsumeBytes(b)
			n, v = m, fmt.Sprintf("%q", x)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			t.Fatalf("bad field %d: %v", num, protowire.ParseError(n))
		}
		b = b[n:]
		out = append(out, wireField{num, typ, v})
	}
	return out
}

func TestWireEncodeRequests(t *testing.T) {
	id := testNodeID(5)
	tests := []struct {
		name string
		msg  proto.Message
		want []wireField
	}{{
		name: "GetClusterResourceStateRequest with version 0 is empty on the wire",
		msg:  &rpcpb.GetClusterResourceStateRequest{},
		want: nil,
	}, {
		name: "GetClusterResourceStateRequest",
		msg:  &rpcpb.GetClusterResourceStateRequest{LastSeenClusterResourceStateVersion: 9},
		want: []wireField{{1, protowire.VarintType, "9"}},
	}, {
		name: "DrainNodeRequest",
		msg: &rpcpb.DrainNodeRequest{
			NodeId: id, Reason: rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION,
			ReasonMessage: "idle", DeadlineTimestampMs: 1764000000000,
		},
		want: []wireField{
			{1, protowire.BytesType, fmt.Sprintf("%q", id)},
			{2, protowire.VarintType, "1"},
			{3, protowire.BytesType, `"idle"`},
			{4, protowire.VarintType, "1764000000000"},
		},
	}, {
		name: "AutoscalingState",
		msg: &rpcpb.AutoscalingState{
			LastSeenClusterResourceStateVersion: 3,
			AutoscalerStateVersion:              4,
			PendingInstanceRequests: []*rpcpb.PendingInstanceRequest{{
				InstanceTypeName: "t", RayNodeTypeName: "w", Count: 2, RequestTs: 5,
			}},
			PendingInstances: []*rpcpb.PendingInstance{{InstanceId: "pod"}},
			FailedInstanceRequests: []*rpcpb.FailedInstanceRequest{{
				InstanceTypeName: "t", RayNodeTypeName: "w", Count: 1, Reason: "r", StartTs: 6, FailedTs: 7,
			}},
		},
		want: []wireField{
			{1, protowire.VarintType, "3"},
			{2, protowire.VarintType, "4"},
			{3, protowire.BytesType, fmt.Sprintf("%q", cat(fString(1, "t"), fString(2, "w"), fInt(3, 2), fInt(4, 5)))},
			{7, protowire.BytesType, fmt.Sprintf("%q", fString(3, "pod"))},
			{8, protowire.BytesType, fmt.Sprintf("%q", cat(fString(1, "t"), fString(2, "w"), fInt(3, 1), fString(4, "r"), fInt(5, 6), fInt(6, 7)))},
		},
	}, {
		name: "ReportAutoscalingStateRequest",
		msg:  &rpcpb.ReportAutoscalingStateRequest{AutoscalingState: &rpcpb.AutoscalingState{AutoscalerStateVersion: 1}},
		want: []wireField{{1, protowire.BytesType, fmt.Sprintf("%q", fInt(2, 1))}},
	}, {
		name: "RequestClusterResourceConstraintRequest",
		msg: &rpcpb.RequestClusterResourceConstraintRequest{ClusterResourceConstraint: &rpcpb.ClusterResourceConstraint{
			ResourceRequests: []*rpcpb.ResourceRequestByCount{{Count: 1}},
		}},
		want: []wireField{{1, protowire.BytesType, fmt.Sprintf("%q", fMsg(1, fInt(2, 1)))}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := proto.MarshalOptions{Deterministic: true}.Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			got := parseFields(t, b)
			if !slices.Equal(got, tt.want) {
				t.Errorf("fields\n got  %v\n want %v", got, tt.want)
			}
		})
	}
}
