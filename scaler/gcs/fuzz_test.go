package gcs

import (
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// fuzzSeed is a small but complete ClusterResourceState.
func fuzzSeed() *rpcpb.ClusterResourceState {
	return &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 3,
		NodeStates: []*rpcpb.NodeState{{
			NodeId: testNodeID(1), InstanceId: "pod", Status: rpcpb.NodeStatus_IDLE, IdleDurationMs: 5,
			TotalResources: map[string]float64{"CPU": 2}, Labels: map[string]string{"k": "v"},
		}},
		PendingGangResourceRequests: []*rpcpb.GangResourceRequest{{
			Details: "pg:STRICT_PACK|PENDING",
			Requests: []*rpcpb.ResourceRequest{{
				ResourcesBundle:      map[string]float64{"GPU": 1},
				PlacementConstraints: []*rpcpb.PlacementConstraint{{Affinity: &rpcpb.AffinityConstraint{LabelName: "_PG_x"}}},
			}},
		}},
		ClusterSessionName: "session",
	}
}

// FuzzDecodeClusterResourceState decodes arbitrary bytes as a
// ClusterResourceState. Decoding may fail but must not panic, and whatever
// decodes must re-encode and decode to an equal message.
func FuzzDecodeClusterResourceState(f *testing.F) {
	seed, err := proto.Marshal(fuzzSeed())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte{})
	f.Add(fMsg(8, fString(1, "unknown field")))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m rpcpb.ClusterResourceState
		if err := proto.Unmarshal(b, &m); err != nil {
			return
		}
		again, err := proto.Marshal(&m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var m2 rpcpb.ClusterResourceState
		if err := proto.Unmarshal(again, &m2); err != nil {
			t.Fatalf("decode of re-encoded message: %v", err)
		}
		if !proto.Equal(&m, &m2) {
			t.Fatalf("round trip changed the message")
		}
		_, _ = protojson.Marshal(&m) // must not panic; invalid UTF-8 may fail
	})
}

// FuzzDecodeClusterResourceStateJSON decodes arbitrary text as protojson.
// Decoding may fail but must not panic, and whatever decodes must survive
// a binary round trip.
func FuzzDecodeClusterResourceStateJSON(f *testing.F) {
	seed, err := protojson.Marshal(fuzzSeed())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"nodeStates":[{"status":"DRAINING","nodeId":"AAEC"}],"clusterResourceStateVersion":"9"}`))
	f.Add([]byte(`{"node_states":[{"available_resources":{"CPU":1.5}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m rpcpb.ClusterResourceState
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(b, &m); err != nil {
			return
		}
		bin, err := proto.Marshal(&m)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var m2 rpcpb.ClusterResourceState
		if err := proto.Unmarshal(bin, &m2); err != nil {
			t.Fatalf("decode: %v", err)
		}
		if !proto.Equal(&m, &m2) {
			t.Fatalf("binary round trip changed the message")
		}
	})
}
