package gcs

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// Ray's messages, transcribed from Ray's own .proto files as "number name
// type" per field: src/ray/protobuf/autoscaler.proto and common.proto
// (LabelSelector*) of Ray master late 2025, the newest protocol state the
// scaler speaks (docs/ray-versions.md). The test compares them with the
// generated descriptors, so a typo in our .proto cannot go unnoticed.
// Omitted on purpose: VirtualClusterState (ClusterResourceState field 8),
// which only forks of Ray define.
var referenceMessages = map[string][]string{
	"ray.rpc.LabelSelectorConstraint": {"1 label_key string", "2 operator ray.rpc.LabelSelectorOperator", "3 label_values repeated string"},
	"ray.rpc.LabelSelector":           {"1 label_constraints repeated ray.rpc.LabelSelectorConstraint"},

	"AntiAffinityConstraint":    {"1 label_name string", "2 label_value string"},
	"AffinityConstraint":        {"1 label_name string", "2 label_value string"},
	"PlacementConstraint":       {"1 anti_affinity optional AntiAffinityConstraint", "2 affinity optional AffinityConstraint"},
	"ResourceRequest":           {"1 resources_bundle map<string,double>", "2 placement_constraints repeated PlacementConstraint", "3 label_selectors repeated ray.rpc.LabelSelector"},
	"ResourceRequestByCount":    {"1 request ResourceRequest", "2 count int64"},
	"BundleSelector":            {"1 resource_requests repeated ResourceRequest"},
	"GangResourceRequest":       {"1 requests repeated ResourceRequest", "2 details string", "3 bundle_selectors repeated BundleSelector"},
	"ClusterResourceConstraint": {"1 resource_requests repeated ResourceRequestByCount"},
	"NodeState": {
		"1 node_id bytes", "2 instance_id string", "3 ray_node_type_name string",
		"4 available_resources map<string,double>", "5 total_resources map<string,double>",
		"6 dynamic_labels map<string,string>", "7 node_state_version int64", "8 status NodeStatus",
		"9 idle_duration_ms int64", "10 node_ip_address string", "11 instance_type_name string",
		"12 node_activity repeated string", "13 labels map<string,string>",
	},
	"GetClusterResourceStateRequest": {"1 last_seen_cluster_resource_state_version int64"},
	"ClusterResourceState": {
		"1 cluster_resource_state_version int64", "2 last_seen_autoscaler_state_version int64",
		"3 node_states repeated NodeState", "4 pending_resource_requests repeated ResourceRequestByCount",
		"5 pending_gang_resource_requests repeated GangResourceRequest",
		"6 cluster_resource_constraints repeated ClusterResourceConstraint", "7 cluster_session_name string",
	},
	"GetClusterResourceStateReply": {"1 cluster_resource_state ClusterResourceState"},
	"PendingInstanceRequest":       {"1 instance_type_name string", "2 ray_node_type_name string", "3 count int32", "4 request_ts int64"},
	"FailedInstanceRequest": {
		"1 instance_type_name string", "2 ray_node_type_name string", "3 count int32",
		"4 reason string", "5 start_ts int64", "6 failed_ts int64",
	},
	"PendingInstance": {"1 instance_type_name string", "2 ray_node_type_name string", "3 instance_id string", "4 ip_address string", "5 details string"},
	"AutoscalingState": {
		"1 last_seen_cluster_resource_state_version int64", "2 autoscaler_state_version int64",
		"3 pending_instance_requests repeated PendingInstanceRequest",
		"4 infeasible_resource_requests repeated ResourceRequest",
		"5 infeasible_gang_resource_requests repeated GangResourceRequest",
		"6 infeasible_cluster_resource_constraints repeated ClusterResourceConstraint",
		"7 pending_instances repeated PendingInstance", "8 failed_instance_requests repeated FailedInstanceRequest",
	},
	"ReportAutoscalingStateRequest":           {"1 autoscaling_state AutoscalingState"},
	"ReportAutoscalingStateReply":             {},
	"RequestClusterResourceConstraintRequest": {"1 cluster_resource_constraint ClusterResourceConstraint"},
	"RequestClusterResourceConstraintReply":   {},
	"GetClusterStatusRequest":                 {},
	"GetClusterStatusReply":                   {"1 autoscaling_state AutoscalingState", "2 cluster_resource_state ClusterResourceState"},
	"DrainNodeRequest":                        {"1 node_id bytes", "2 reason DrainNodeReason", "3 reason_message string", "4 deadline_timestamp_ms int64"},
	"DrainNodeReply":                          {"1 is_accepted bool", "2 rejection_reason_message string"},
	"NodeGroupConfig":                         {"1 resources map<string,uint64>", "2 min_count uint32", "3 max_count int32", "4 name string"},
	"ClusterConfig":                           {"1 min_resources map<string,uint64>", "2 max_resources map<string,uint64>", "3 node_group_configs repeated NodeGroupConfig"},
	"ReportClusterConfigRequest":              {"1 cluster_config ClusterConfig"},
	"ReportClusterConfigReply":                {},
}

var referenceEnums = map[string][]string{
	"ray.rpc.LabelSelectorOperator": {"0 LABEL_OPERATOR_UNSPECIFIED", "1 LABEL_OPERATOR_IN", "2 LABEL_OPERATOR_NOT_IN"},
	"NodeStatus":                    {"0 UNSPECIFIED", "1 RUNNING", "2 DEAD", "3 IDLE", "4 DRAINING"},
	"DrainNodeReason":               {"0 DRAIN_NODE_REASON_UNSPECIFIED", "1 DRAIN_NODE_REASON_IDLE_TERMINATION", "2 DRAIN_NODE_REASON_PREEMPTION"},
}

// referenceService is AutoscalerStateService in autoscaler.proto: RPC,
// request, reply, in Ray's order.
var referenceService = []string{
	"GetClusterResourceState GetClusterResourceStateRequest GetClusterResourceStateReply",
	"ReportAutoscalingState ReportAutoscalingStateRequest ReportAutoscalingStateReply",
	"ReportClusterConfig ReportClusterConfigRequest ReportClusterConfigReply",
	"RequestClusterResourceConstraint RequestClusterResourceConstraintRequest RequestClusterResourceConstraintReply",
	"GetClusterStatus GetClusterStatusRequest GetClusterStatusReply",
	"DrainNode DrainNodeRequest DrainNodeReply",
}

const autoscalerPkg = "ray.rpc.autoscaler."

// shortName drops the ray.rpc.autoscaler package prefix.
func shortName(n protoreflect.FullName) string {
	return strings.TrimPrefix(string(n), autoscalerPkg)
}

// typeName describes a field's type in the notation of the tables.
func typeName(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return shortName(fd.Message().FullName())
	case protoreflect.EnumKind:
		return shortName(fd.Enum().FullName())
	default:
		return fd.Kind().String()
	}
}

// fieldSpec describes a field as "number name type".
func fieldSpec(fd protoreflect.FieldDescriptor) string {
	typ := typeName(fd)
	switch {
	case fd.IsMap():
		typ = fmt.Sprintf("map<%s,%s>", typeName(fd.MapKey()), typeName(fd.MapValue()))
	case fd.IsList():
		typ = "repeated " + typ
	case fd.HasOptionalKeyword():
		typ = "optional " + typ
	}
	return fmt.Sprintf("%d %s %s", fd.Number(), fd.Name(), typ)
}

// lookup finds a message or enum by its table name.
func lookup(name string) protoreflect.Descriptor {
	for _, f := range []protoreflect.FileDescriptor{rpcpb.File_scaler_gcs_proto_autoscaler_proto, rpcpb.File_scaler_gcs_proto_common_proto} {
		full := protoreflect.FullName(name)
		if !strings.HasPrefix(name, "ray.") {
			full = protoreflect.FullName(autoscalerPkg + name)
		}
		short := full.Name()
		if f.Package() != full.Parent() {
			continue
		}
		if m := f.Messages().ByName(short); m != nil {
			return m
		}
		if e := f.Enums().ByName(short); e != nil {
			return e
		}
	}
	return nil
}

func TestSchemaMatchesReferenceTables(t *testing.T) {
	seen := map[string]bool{}
	for name, want := range referenceMessages {
		md, ok := lookup(name).(protoreflect.MessageDescriptor)
		if !ok {
			t.Errorf("message %s missing", name)
			continue
		}
		seen[string(md.FullName())] = true
		var got []string
		for i := range md.Fields().Len() {
			got = append(got, fieldSpec(md.Fields().Get(i)))
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("message %s:\n got  %s\n want %s", name, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
	for name, want := range referenceEnums {
		ed, ok := lookup(name).(protoreflect.EnumDescriptor)
		if !ok {
			t.Errorf("enum %s missing", name)
			continue
		}
		seen[string(ed.FullName())] = true
		var got []string
		for i := range ed.Values().Len() {
			v := ed.Values().Get(i)
			got = append(got, fmt.Sprintf("%d %s", v.Number(), v.Name()))
		}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("enum %s:\n got  %s\n want %s", name, strings.Join(got, "; "), strings.Join(want, "; "))
		}
	}
	// Nothing beyond the tables.
	for _, f := range []protoreflect.FileDescriptor{rpcpb.File_scaler_gcs_proto_autoscaler_proto, rpcpb.File_scaler_gcs_proto_common_proto} {
		for i := range f.Messages().Len() {
			if n := f.Messages().Get(i).FullName(); !seen[string(n)] {
				t.Errorf("message %s is not in the reference tables", n)
			}
		}
		for i := range f.Enums().Len() {
			if n := f.Enums().Get(i).FullName(); !seen[string(n)] {
				t.Errorf("enum %s is not in the reference tables", n)
			}
		}
	}
}

func TestServiceMatchesReferenceTable(t *testing.T) {
	f := rpcpb.File_scaler_gcs_proto_autoscaler_proto
	if f.Package() != "ray.rpc.autoscaler" {
		t.Fatalf("package %s, want ray.rpc.autoscaler", f.Package())
	}
	sd := f.Services().ByName("AutoscalerStateService")
	if sd == nil || f.Services().Len() != 1 {
		t.Fatal("want exactly the service AutoscalerStateService")
	}
	var got []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		if m.IsStreamingClient() || m.IsStreamingServer() {
			t.Errorf("%s streams; every RPC is unary", m.Name())
		}
		got = append(got, fmt.Sprintf("%s %s %s", m.Name(), shortName(m.Input().FullName()), shortName(m.Output().FullName())))
	}
	if strings.Join(got, "\n") != strings.Join(referenceService, "\n") {
		t.Errorf("service:\n got  %v\n want %v", got, referenceService)
	}
	if p := rpcpb.AutoscalerStateService_GetClusterResourceState_FullMethodName; p != "/ray.rpc.autoscaler.AutoscalerStateService/GetClusterResourceState" {
		t.Errorf("method path %s", p)
	}
}

// rayNodeInfoMessages are the ray.rpc messages of node_info.proto as Ray's
// src/ray/protobuf/gcs_service.proto defines them at
// 00501e2bd10f17c70dc12cdf54a203cf2db02a09, every field of each. Fields
// the scaler neither sends nor reads are left out of node_info.proto
// (proto3 skips them); they are listed in nodeInfoOmitted.
var rayNodeInfoMessages = map[string][]string{
	"GcsStatus":         {"1 code int32", "2 message string"},
	"CheckAliveRequest": {"1 node_ids repeated bytes"},
	"CheckAliveReply":   {"1 status GcsStatus", "2 ray_version string", "3 raylet_alive repeated bool"},
	"DrainNodeData":     {"1 node_id bytes"},
	"DrainNodeRequest":  {"1 drain_node_data repeated DrainNodeData"},
	"DrainNodeStatus":   {"1 node_id bytes"},
	"DrainNodeReply":    {"1 status GcsStatus", "2 drain_node_status repeated DrainNodeStatus"},
}

// nodeInfoOmitted are the Ray fields node_info.proto leaves out, and why.
var nodeInfoOmitted = map[string]string{
	// The scaler sends no node ids; older GCS releases declared field 1 as
	// repeated string raylet_address, so declaring it would tie the scaler
	// to one of the two.
	"CheckAliveRequest.1": "never sent",
	// One bool per requested node id; the scaler requests none.
	"CheckAliveReply.3": "never read",
}

// rayNodeInfoService is the part of NodeInfoGcsService the scaler calls.
var rayNodeInfoService = []string{
	"DrainNode DrainNodeRequest DrainNodeReply",
	"CheckAlive CheckAliveRequest CheckAliveReply",
}

func TestNodeInfoSchemaMatchesRay(t *testing.T) {
	f := nodeinfopb.File_scaler_gcs_proto_node_info_proto
	if f.Package() != "ray.rpc" {
		t.Fatalf("package %s, want ray.rpc", f.Package())
	}
	short := func(n protoreflect.FullName) string { return strings.TrimPrefix(string(n), "ray.rpc.") }
	spec := func(fd protoreflect.FieldDescriptor) string {
		typ := fd.Kind().String()
		if fd.Kind() == protoreflect.MessageKind {
			typ = short(fd.Message().FullName())
		}
		if fd.IsList() {
			typ = "repeated " + typ
		}
		return fmt.Sprintf("%d %s %s", fd.Number(), fd.Name(), typ)
	}
	if f.Messages().Len() != len(rayNodeInfoMessages) {
		t.Errorf("node_info.proto declares %d messages, Ray's table has %d", f.Messages().Len(), len(rayNodeInfoMessages))
	}
	for i := range f.Messages().Len() {
		md := f.Messages().Get(i)
		name := string(md.Name())
		ray, ok := rayNodeInfoMessages[name]
		if !ok {
			t.Errorf("message %s is not one of Ray's", name)
			continue
		}
		byNumber := map[string]string{}
		for _, s := range ray {
			num, _, _ := strings.Cut(s, " ")
			byNumber[num] = s
		}
		declared := map[string]bool{}
		for j := range md.Fields().Len() {
			fd := md.Fields().Get(j)
			got := spec(fd)
			num := fmt.Sprint(fd.Number())
			declared[num] = true
			if want, ok := byNumber[num]; !ok {
				t.Errorf("%s: field %q does not exist in Ray's message", name, got)
			} else if got != want {
				t.Errorf("%s: field %q, Ray has %q", name, got, want)
			}
			if fd.HasPresence() && fd.Kind() != protoreflect.MessageKind {
				t.Errorf("%s.%s: explicit presence; Ray's proto3 field has none", name, fd.Name())
			}
		}
		for num, s := range byNumber {
			if !declared[num] {
				if _, ok := nodeInfoOmitted[name+"."+num]; !ok {
					t.Errorf("%s: Ray's field %q is missing and not listed as omitted", name, s)
				}
			}
		}
	}
	for key := range nodeInfoOmitted {
		name, num, _ := strings.Cut(key, ".")
		md := f.Messages().ByName(protoreflect.Name(name))
		if md == nil {
			t.Errorf("omission %s names no message", key)
			continue
		}
		n, _ := strconv.Atoi(num)
		if md.Fields().ByNumber(protoreflect.FieldNumber(n)) != nil {
			t.Errorf("omission %s is declared after all", key)
		}
	}
	sd := f.Services().ByName("NodeInfoGcsService")
	if sd == nil || f.Services().Len() != 1 {
		t.Fatal("want exactly the service NodeInfoGcsService")
	}
	var got []string
	for i := range sd.Methods().Len() {
		m := sd.Methods().Get(i)
		if m.IsStreamingClient() || m.IsStreamingServer() {
			t.Errorf("%s streams; every RPC is unary", m.Name())
		}
		got = append(got, fmt.Sprintf("%s %s %s", m.Name(), short(m.Input().FullName()), short(m.Output().FullName())))
	}
	if strings.Join(got, "\n") != strings.Join(rayNodeInfoService, "\n") {
		t.Errorf("service:\n got  %v\n want %v", got, rayNodeInfoService)
	}
	for path, want := range map[string]string{
		nodeinfopb.NodeInfoGcsService_CheckAlive_FullMethodName: "/ray.rpc.NodeInfoGcsService/CheckAlive",
		nodeinfopb.NodeInfoGcsService_DrainNode_FullMethodName:  "/ray.rpc.NodeInfoGcsService/DrainNode",
	} {
		if path != want {
			t.Errorf("method path %s, want %s", path, want)
		}
	}
}
