package gcs

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// These tests hand-encode messages with the field numbers and wire types of
// Ray's own .proto files, independently of ours, and check that the
// generated types decode them (and encode themselves) the same way. Two
// protocol states are covered (docs/ray-versions.md):
//
//   - newest: src/ray/protobuf/autoscaler.proto and common.proto of Ray
//     master late 2025, and gcs_service.proto at
//     00501e2bd10f17c70dc12cdf54a203cf2db02a09 (Ray 2.49 and later carry
//     every field used here);
//   - oldest: src/ray/protobuf/autoscaler.proto at
//     8576fc96b463e4da504359b8775601dde39d03c4, the first form at that path
//     (2023-08): today's DrainNodeReason numbering and by-count constraint,
//     but no DrainNode deadline or rejection message, no node_activity, no
//     labels, label selectors or bundle selectors. Ray 2.8, the oldest
//     release the scaler accepts, carries this form or a later one.

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

// TestWireDecodeClusterResourceStateOldest decodes a reply as the oldest
// GCS the scaler accepts sends it: NodeState fields 1-11 only, gangs without
// bundle_selectors, requests without label selectors, and the constraint in
// its by-count form (then named min_bundles; the name never reaches the
// wire).
func TestWireDecodeClusterResourceStateOldest(t *testing.T) {
	nodeID := testNodeID(7)
	cpu1 := fMapDouble(1, "CPU", 1)
	spread := fMsg(2, fMsg(1, fString(1, "_PG_ab12"))) // placement_constraints[0].anti_affinity
	wire := cat(
		fInt(1, 5),
		fMsg(3, // node_states[0]
			fBytes(1, nodeID), fString(2, "rc-workers-x1"), fString(3, "workers"),
			fMapDouble(4, "CPU", 4), fMapDouble(5, "CPU", 4), fMapString(6, "_PG_ab12", ""),
			fInt(7, 5), fVarint(8, 3), fInt(9, 120000), fString(10, "10.0.0.7"), fString(11, "m5.large"),
		),
		fMsg(4, fMsg(1, cpu1, spread), fInt(2, 3)),                               // pending_resource_requests[0]
		fMsg(5, fMsg(1, cpu1, spread), fString(2, "ab12:STRICT_SPREAD|PENDING")), // pending_gang_resource_requests[0]
		fMsg(6, fMsg(1, fMsg(1, cpu1), fInt(2, 4))),                              // cluster_resource_constraints[0] by count
		fString(7, "session_2023-11-01_00-00-00"),
	)
	spreadReq := func() *rpcpb.ResourceRequest {
		return &rpcpb.ResourceRequest{
			ResourcesBundle:      map[string]float64{"CPU": 1},
			PlacementConstraints: []*rpcpb.PlacementConstraint{{AntiAffinity: &rpcpb.AntiAffinityConstraint{LabelName: "_PG_ab12"}}},
		}
	}
	want := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 5,
		NodeStates: []*rpcpb.NodeState{{
			NodeId: nodeID, InstanceId: "rc-workers-x1", RayNodeTypeName: "workers",
			AvailableResources: map[string]float64{"CPU": 4}, TotalResources: map[string]float64{"CPU": 4},
			DynamicLabels: map[string]string{"_PG_ab12": ""}, NodeStateVersion: 5,
			Status: rpcpb.NodeStatus_IDLE, IdleDurationMs: 120000,
			NodeIpAddress: "10.0.0.7", InstanceTypeName: "m5.large",
		}},
		PendingResourceRequests:     []*rpcpb.ResourceRequestByCount{{Request: spreadReq(), Count: 3}},
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{{Requests: []*rpcpb.ResourceRequest{spreadReq()}, Details: "ab12:STRICT_SPREAD|PENDING"}},
		ClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{
			ResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 4}},
		}},
		ClusterSessionName: "session_2023-11-01_00-00-00",
	}
	reply := &rpcpb.GetClusterResourceStateReply{}
	decode(t, fBytes(1, wire), reply)
	got := reply.GetClusterResourceState()
	if !proto.Equal(got, want) {
		t.Fatalf("decoded\n %v\nwant\n %v", got, want)
	}
	n := got.GetNodeStates()[0]
	if n.GetLabels() != nil || n.GetNodeActivity() != nil || got.GetPendingGangResourceRequests()[0].GetBundleSelectors() != nil {
		t.Errorf("fields the oldest GCS does not send are set: %v", got)
	}
}

// TestWireOldConstraintFormIsNotOurs: before the renumbering, a
// ClusterResourceConstraint carried its bundles in field 1 as plain
// ResourceRequests (src/ray/protobuf/experimental/autoscaler.proto at
// 0044329e575cc3b02d388da7a60b5a3429bad326). Our by-count type cannot read
// that form: it fails or yields other shapes. This is one of the two reasons
// such a GCS is refused (the other is the drain-reason numbering).
func TestWireOldConstraintFormIsNotOurs(t *testing.T) {
	old := fMsg(1, fMapDouble(1, "CPU", 4)) // min_bundles[0] = {resources_bundle: {CPU: 4}}
	got := &rpcpb.ClusterResourceConstraint{}
	if err := proto.Unmarshal(old, got); err != nil {
		return // unreadable: fine, it is not what we would act on
	}
	want := &rpcpb.ClusterResourceConstraint{ResourceRequests: []*rpcpb.ResourceRequestByCount{{
		Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 4}}, Count: 1,
	}}}
	if proto.Equal(got, want) {
		t.Fatal("the old constraint form decodes as if it were the current one")
	}
	for _, r := range got.GetResourceRequests() {
		if r.GetRequest().GetResourcesBundle()["CPU"] == 4 {
			t.Fatalf("old form read as a CPU:4 bundle: %v", got)
		}
	}
}

// TestWireDrainReasonIsNotTheExperimentalNumbering: the GCS numbered
// DrainNodeReason IDLE_TERMINATION = 0, PREEMPTION = 1 until 2023-08
// (experimental/autoscaler.proto at 0044329e575cc3b02d388da7a60b5a3429bad326);
// today UNSPECIFIED = 0, IDLE_TERMINATION = 1, PREEMPTION = 2
// (autoscaler.proto at 8576fc96b463e4da504359b8775601dde39d03c4 and later).
// The scaler's idle drain must put 1 on the wire, never 0 or nothing: an
// absent reason is 0, which the old GCS reads as IDLE_TERMINATION and
// today's as UNSPECIFIED.
func TestWireDrainReasonIsNotTheExperimentalNumbering(t *testing.T) {
	if n := rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION.Number(); n != 1 {
		t.Fatalf("IDLE_TERMINATION = %d, want 1", n)
	}
	if n := rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION.Number(); n != 2 {
		t.Fatalf("PREEMPTION = %d, want 2", n)
	}
	id := testNodeID(9)
	req, err := drainRequest(id, rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle for 60s", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []wireField
	for _, f := range parseFields(t, b) {
		if f.num == 2 {
			reasons = append(reasons, f)
		}
	}
	if want := []wireField{{2, protowire.VarintType, "1"}}; !slices.Equal(reasons, want) {
		t.Fatalf("reason on the wire = %v, want %v (IDLE_TERMINATION in today's numbering)", reasons, want)
	}
	// A request without a reason (0, what the old numbering called
	// IDLE_TERMINATION) is never built.
	if _, err := drainRequest(id, rpcpb.DrainNodeReason_DRAIN_NODE_REASON_UNSPECIFIED, "", time.Time{}); err == nil {
		t.Error("drainRequest accepted DRAIN_NODE_REASON_UNSPECIFIED")
	}
	// What an old GCS sent as IDLE_TERMINATION (no field 2) reads as
	// UNSPECIFIED here, and its PREEMPTION (1) as IDLE_TERMINATION: the two
	// numberings cannot be mixed, hence the version gate.
	old := &rpcpb.DrainNodeRequest{}
	decode(t, cat(fBytes(1, id), fVarint(2, 1)), old)
	if old.GetReason() != rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION {
		t.Errorf("old PREEMPTION (1) decodes as %v", old.GetReason())
	}
}

// TestWireDrainNodeOldest: the oldest GCS knows DrainNodeRequest fields 1-3
// and DrainNodeReply field 1. Without a deadline the request carries no
// field 4, and a rejection from such a GCS carries no message.
func TestWireDrainNodeOldest(t *testing.T) {
	id := testNodeID(3)
	req, err := drainRequest(id, rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	want := []wireField{
		{1, protowire.BytesType, fmt.Sprintf("%q", id)},
		{2, protowire.VarintType, "1"},
		{3, protowire.BytesType, `"idle"`},
	}
	if got := parseFields(t, b); !slices.Equal(got, want) {
		t.Errorf("request fields\n got  %v\n want %v", got, want)
	}
	for _, tt := range []struct {
		wire     []byte
		accepted bool
	}{{fVarint(1, 1), true}, {nil, false}, {fVarint(1, 0), false}} {
		reply := &rpcpb.DrainNodeReply{}
		decode(t, tt.wire, reply)
		if reply.GetIsAccepted() != tt.accepted || reply.GetRejectionReasonMessage() != "" {
			t.Errorf("reply %x = %v, want accepted=%v without message", tt.wire, reply, tt.accepted)
		}
	}
	// The newest GCS adds field 2 to a rejection.
	reply := &rpcpb.DrainNodeReply{}
	decode(t, fString(2, "The node to be idle terminated is no longer idle."), reply)
	if reply.GetIsAccepted() || reply.GetRejectionReasonMessage() != "The node to be idle terminated is no longer idle." {
		t.Errorf("newest rejection = %v", reply)
	}
}

// TestWireReportAutoscalingStateInfeasible: the report with infeasible
// demand, as the newest GCS reads it (ResourceRequest with label selectors,
// field 3) and as the oldest does (fields 1-2; it skips field 3). The
// reply is empty in both.
func TestWireReportAutoscalingStateInfeasible(t *testing.T) {
	sel := &rpcpb.LabelSelector{LabelConstraints: []*rpcpb.LabelSelectorConstraint{{
		LabelKey: "ray.io/accelerator-type", Operator: rpcpb.LabelSelectorOperator_LABEL_OPERATOR_IN, LabelValues: []string{"A100"},
	}}}
	state := &rpcpb.AutoscalingState{
		AutoscalerStateVersion: 1764000000000,
		InfeasibleResourceRequests: []*rpcpb.ResourceRequest{
			{ResourcesBundle: map[string]float64{"GPU": 8}},
			{ResourcesBundle: map[string]float64{"CPU": 1}, LabelSelectors: []*rpcpb.LabelSelector{sel}},
		},
		InfeasibleGangResourceRequests: []*rpcpb.GangResourceRequest{{
			Requests: []*rpcpb.ResourceRequest{{ResourcesBundle: map[string]float64{"CPU": 64}}},
			Details:  "cd34:STRICT_PACK|PENDING",
		}},
		InfeasibleClusterResourceConstraints: []*rpcpb.ClusterResourceConstraint{{
			ResourceRequests: []*rpcpb.ResourceRequestByCount{{Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"TPU": 4}}, Count: 2}},
		}},
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&rpcpb.ReportAutoscalingStateRequest{AutoscalingState: state})
	if err != nil {
		t.Fatal(err)
	}
	// LabelSelector{label_constraints[0]: {key, operator IN, values}}.
	selWire := fMsg(1, fString(1, "ray.io/accelerator-type"), fVarint(2, 1), fString(3, "A100"))
	selected := cat(fMapDouble(1, "CPU", 1), fBytes(3, selWire))
	wantState := cat(
		fInt(2, 1764000000000),
		fMsg(4, fMapDouble(1, "GPU", 8)),
		fBytes(4, selected),
		fMsg(5, fMsg(1, fMapDouble(1, "CPU", 64)), fString(2, "cd34:STRICT_PACK|PENDING")),
		fMsg(6, fMsg(1, fMsg(1, fMapDouble(1, "TPU", 4)), fInt(2, 2))),
	)
	if want := fBytes(1, wantState); !slices.Equal(b, want) {
		t.Errorf("ReportAutoscalingStateRequest\n got  %x\n want %x", b, want)
	}
	// The oldest GCS's ResourceRequest has fields 1-2 only: of the second
	// request it reads the bundle (field 1) and skips the selector (field 3).
	var nums []protowire.Number
	for _, f := range parseFields(t, selected) {
		nums = append(nums, f.num)
	}
	if !slices.Equal(nums, []protowire.Number{1, 3}) {
		t.Errorf("ResourceRequest fields %v, want [1 3]", nums)
	}
	if b, err := proto.Marshal(&rpcpb.ReportAutoscalingStateReply{}); err != nil || len(b) != 0 {
		t.Errorf("ReportAutoscalingStateReply = %x, %v; want empty", b, err)
	}
	decode(t, nil, &rpcpb.ReportAutoscalingStateReply{})
}

// gcsStatus hand-encodes ray.rpc.GcsStatus{code = 1, message = 2} as field
// num. The node-info handlers always set it (GCS_RPC_SEND_REPLY), so an OK
// reply carries an empty status message.
func gcsStatus(num protowire.Number, code int64, message string) []byte {
	var fields [][]byte
	if code != 0 {
		fields = append(fields, fInt(1, code))
	}
	if message != "" {
		fields = append(fields, fString(2, message))
	}
	return fMsg(num, fields...)
}

// fPackedBools encodes a packed repeated bool field, as proto3 sends
// CheckAliveReply.raylet_alive.
func fPackedBools(num protowire.Number, vs ...bool) []byte {
	var b []byte
	for _, v := range vs {
		b = protowire.AppendVarint(b, protowire.EncodeBool(v))
	}
	return fBytes(num, b)
}

// TestWireCheckAlive: NodeInfoGcsService.CheckAlive as gcs_service.proto
// defines it (00501e2bd10f17c70dc12cdf54a203cf2db02a09): request
// {repeated bytes node_ids = 1} (older GCS: repeated string raylet_address
// = 1), reply {GcsStatus status = 1; string ray_version = 2; repeated bool
// raylet_alive = 3}. The scaler sends an empty request, which both request
// forms read the same, and reads status and ray_version.
func TestWireCheckAlive(t *testing.T) {
	if b, err := proto.Marshal(&nodeinfopb.CheckAliveRequest{}); err != nil || len(b) != 0 {
		t.Fatalf("CheckAliveRequest = %x, %v; want nothing on the wire", b, err)
	}
	if n := (&nodeinfopb.CheckAliveRequest{}).ProtoReflect().Descriptor().Fields().Len(); n != 0 {
		t.Fatalf("CheckAliveRequest declares %d fields; its field 1 changed type across Ray releases, so none may be sent", n)
	}
	tests := []struct {
		name    string
		wire    []byte
		code    int32
		message string
		version string
	}{
		{"newest, with raylet_alive", cat(gcsStatus(1, 0, ""), fString(2, "2.52.0"), fPackedBools(3, true, false)), 0, "", "2.52.0"},
		{"oldest", cat(gcsStatus(1, 0, ""), fString(2, "2.8.0")), 0, "", "2.8.0"},
		{"nightly", cat(gcsStatus(1, 0, ""), fString(2, "3.0.0.dev0")), 0, "", "3.0.0.dev0"},
		{"error status", cat(gcsStatus(1, 14, "GCS unavailable")), 14, "GCS unavailable", ""},
		{"fields in any order", cat(fString(2, "2.10.0"), gcsStatus(1, 0, "")), 0, "", "2.10.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reply := &nodeinfopb.CheckAliveReply{}
			decode(t, tt.wire, reply)
			if reply.GetStatus().GetCode() != tt.code || reply.GetStatus().GetMessage() != tt.message || reply.GetRayVersion() != tt.version {
				t.Errorf("CheckAliveReply = %v", reply)
			}
			// What the reply says drives the gate; a decoded version must
			// reach CheckRayVersion unchanged.
			if got := CheckRayVersion(reply.GetRayVersion()).Version; got != tt.version {
				t.Errorf("CheckRayVersion saw %q", got)
			}
		})
	}
}

// TestWireNodeInfoDrainNode: NodeInfoGcsService.DrainNode as
// gcs_service.proto defines it (marked "do not modify" for the autoscaler's
// sake): request {repeated DrainNodeData drain_node_data = 1} with
// DrainNodeData {bytes node_id = 1}; reply {GcsStatus status = 1; repeated
// DrainNodeStatus drain_node_status = 2} with DrainNodeStatus {bytes node_id
// = 1}.
func TestWireNodeInfoDrainNode(t *testing.T) {
	id := testNodeID(4)
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(&nodeinfopb.DrainNodeRequest{
		DrainNodeData: []*nodeinfopb.DrainNodeData{{NodeId: id}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := fMsg(1, fBytes(1, id)); !slices.Equal(b, want) {
		t.Errorf("DrainNodeRequest\n got  %x\n want %x", b, want)
	}
	reply := &nodeinfopb.DrainNodeReply{}
	decode(t, cat(gcsStatus(1, 0, ""), fMsg(2, fBytes(1, id)), fMsg(2, fBytes(1, testNodeID(5)))), reply)
	want := &nodeinfopb.DrainNodeReply{
		Status:          &nodeinfopb.GcsStatus{},
		DrainNodeStatus: []*nodeinfopb.DrainNodeStatus{{NodeId: id}, {NodeId: testNodeID(5)}},
	}
	if !proto.Equal(reply, want) {
		t.Errorf("DrainNodeReply = %v, want %v", reply, want)
	}
	failed := &nodeinfopb.DrainNodeReply{}
	decode(t, gcsStatus(1, 5, "not found"), failed)
	if failed.GetStatus().GetCode() != 5 || failed.GetStatus().GetMessage() != "not found" || len(failed.GetDrainNodeStatus()) != 0 {
		t.Errorf("failed DrainNodeReply = %v", failed)
	}
}
