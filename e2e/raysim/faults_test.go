package raysim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// gcsClient serves s over gRPC on a free port and returns a client whose
// calls go to cluster ns/name.
func gcsClient(t *testing.T, s *Sim, ns, name string) rpcpb.AutoscalerStateServiceClient {
	t.Helper()
	as, _ := clients(t, s, ns, name)
	return as
}

func control(t *testing.T, h http.Handler, method, path, body string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

func TestFaultMakesOneClusterUnreachable(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "a", []*corev1.Pod{pod("w-1", "g", "worker", "2")})
	h := s.Handler()
	a, b := gcsClient(t, s, "team", "a"), gcsClient(t, s, "team", "b")
	ctx := context.Background()

	if code, body := control(t, h, "PUT", "/v1/clusters/team/a/fault", `{"mode":"unavailable"}`); code != http.StatusNoContent {
		t.Fatalf("PUT fault: %d %s", code, body)
	}
	for range 2 {
		if _, err := a.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("faulted cluster answered %v, want UNAVAILABLE", err)
		}
	}
	// A faulted GCS changes nothing: the drain never reaches the node.
	id := nodeID("uid-w-1")
	if _, err := a.DrainNode(ctx, &rpcpb.DrainNodeRequest{NodeId: id, Reason: rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION}); status.Code(err) != codes.Unavailable {
		t.Fatalf("drain through a fault: %v", err)
	}
	if n := nodeByPod(s.cluster("team", "a").snapshot(time.Now()), "w-1"); n.Status == rpcpb.NodeStatus_DEAD {
		t.Fatal("a drain sent during the fault reached the node")
	}
	if _, err := b.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Fatalf("another cluster's GCS affected: %v", err)
	}
	code, body := control(t, h, "GET", "/v1/clusters/team/a/fault", "")
	var got struct {
		Mode   string `json:"mode"`
		Failed int    `json:"failedCalls"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != http.StatusOK || err != nil || got.Mode != FaultUnavailable || got.Failed != 3 {
		t.Fatalf("GET fault: %d %s (%v), want mode unavailable, 3 failed calls", code, body, err)
	}
	if code, _ := control(t, h, "DELETE", "/v1/clusters/team/a/fault", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE fault: %d", code)
	}
	if _, err := a.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Fatalf("after DELETE: %v", err)
	}
}

func TestStallHoldsCallsUntilDeadlineOrClear(t *testing.T) {
	s := New(nil)
	h := s.Handler()
	a := gcsClient(t, s, "team", "a")
	if code, body := control(t, h, "PUT", "/v1/fault", `{"mode":"stall","seconds":60}`); code != http.StatusNoContent {
		t.Fatalf("PUT global fault: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := a.GetClusterResourceState(ctx, &rpcpb.GetClusterResourceStateRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("stalled call ended with %v, want DEADLINE_EXCEEDED", err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := a.GetClusterResourceState(context.Background(), &rpcpb.GetClusterResourceStateRequest{})
		done <- err
	}()
	// The call hangs until the fault is cleared, then fails like a call
	// lost in a partition; the next one is answered.
	for {
		if ft, _ := s.faults.get(""); ft.Failed == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code, _ := control(t, h, "DELETE", "/v1/fault", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE global fault: %d", code)
	}
	if err := <-done; status.Code(err) != codes.Unavailable {
		t.Fatalf("call stalled across the clear ended with %v, want UNAVAILABLE", err)
	}
	if _, err := a.GetClusterResourceState(context.Background(), &rpcpb.GetClusterResourceStateRequest{}); err != nil {
		t.Fatalf("after the clear: %v", err)
	}
	for _, bad := range []string{`{"mode":"slow"}`, `{"mode":"stall","seconds":-1}`} {
		if code, _ := control(t, h, "PUT", "/v1/fault", bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
	if code, _ := control(t, h, "DELETE", "/v1/fault", ""); code != http.StatusNotFound {
		t.Errorf("DELETE without a fault: %d, want 404", code)
	}
}
