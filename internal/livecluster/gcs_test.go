package livecluster

import (
	"context"
	"testing"

	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

func pendingState() *rpcpb.ClusterResourceState {
	return &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 7,
		NodeStates:                  []*rpcpb.NodeState{gcsfake.HeadNode([]byte("head-node-id-0123456789abcd"), "rc-head", "10.0.0.1")},
		PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{
			Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"CPU": 1}}, Count: 3,
		}},
	}
}

// ReadGCS returns the GCS's state and what its Ray version allows, and
// only reads: no report, no drain, no stop.
func TestReadGCSOnlyReads(t *testing.T) {
	g := gcsfake.Start(t)
	g.Autoscaler.SetState(pendingState())
	got, err := ReadGCS(context.Background(), g.Addr, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.State.GetClusterResourceStateVersion() != 7 || len(got.State.GetPendingResourceRequests()) != 1 {
		t.Errorf("state %v", got.State)
	}
	if !got.Compat.Supported || got.Compat.Version != gcsfake.DefaultRayVersion {
		t.Errorf("compat %+v", got.Compat)
	}
	if g.Autoscaler.Reads() != 1 || len(g.Autoscaler.Reports()) != 0 || len(g.Autoscaler.Drains()) != 0 || len(g.NodeInfo.Stopped()) != 0 {
		t.Errorf("reads %d, reports %d, drains %d, stops %d; want 1 read and nothing else",
			g.Autoscaler.Reads(), len(g.Autoscaler.Reports()), len(g.Autoscaler.Drains()), len(g.NodeInfo.Stopped()))
	}
}

// A Ray the scaler refuses is said, with the state still read: the plan
// shows what the scaler leaves alone.
func TestReadGCSUnsupportedRay(t *testing.T) {
	g := gcsfake.Start(t)
	g.NodeInfo.SetVersion("2.5.0")
	g.Autoscaler.SetState(pendingState())
	got, err := ReadGCS(context.Background(), g.Addr, gcs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Compat.Supported || got.Compat.Reason == "" || got.State == nil {
		t.Errorf("compat %+v, state %v; want unsupported with a reason, and the state", got.Compat, got.State)
	}
}
