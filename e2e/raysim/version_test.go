package raysim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Every GetClusterResourceState (and GetClusterStatus) increments the
// state version; a request whose last seen version exceeds the counter
// would abort the GCS: the call fails UNAVAILABLE, the counter restarts at
// 0, and the control API counts it.
func TestStateVersionCheck(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "a", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	as, _ := clients(t, s, "team", "a")
	ctx := context.Background()
	get := func(seen int64) (*rpcpb.ClusterResourceState, error) {
		reply, err := as.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{LastSeenClusterResourceStateVersion: seen})
		return reply.GetClusterResourceState(), err
	}
	for want := int64(1); want <= 3; want++ {
		st, err := get(0)
		if err != nil || st.ClusterResourceStateVersion != want || st.NodeStates[0].NodeStateVersion != want || st.LastSeenAutoscalerStateVersion != 0 {
			t.Fatalf("call %d: %v %v", want, st, err)
		}
	}
	if _, err := as.GetClusterStatus(ctx, &rpcpb.GetClusterStatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if st, err := get(4); err != nil || st.ClusterResourceStateVersion != 5 {
		t.Fatalf("last seen = the counter: %v %v, want version 5", st, err)
	}
	if _, err := get(6); status.Code(err) != codes.Unavailable {
		t.Fatalf("last seen above the counter: %v, want UNAVAILABLE", err)
	}
	if st, err := get(0); err != nil || st.ClusterResourceStateVersion != 1 {
		t.Fatalf("after the simulated GCS restart: %v %v, want version 1", st, err)
	}
	code, body := control(t, s.Handler(), "GET", "/v1/clusters/team/a/gcs", "")
	var got gcsView
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || got.VersionCheckFailures != 1 || got.StateVersion != 1 {
		t.Errorf("GET gcs: %d %s", code, body)
	}
}
