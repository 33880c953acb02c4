package raysim

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Drain faults fail DrainNode for the chosen node only, as many times as
// asked; the record shows every call, so a test can see the node retried.
func TestDrainFaultsPerNode(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "a", []*corev1.Pod{pod("w-1", "g", "worker", "2"), pod("w-2", "g", "worker", "2")})
	h := s.Handler()
	as, _ := clients(t, s, "team", "a")
	ctx := context.Background()
	if code, body := control(t, h, "PUT", "/v1/clusters/team/a/drain-faults/w-1", `{"mode":"aborted","times":2}`); code != http.StatusNoContent {
		t.Fatalf("PUT drain fault: %d %s", code, body)
	}
	for i := range 2 {
		_, err := as.DrainNode(ctx, idleDrain(nodeID("uid-w-1")))
		if st := status.Convert(err); st.Code() != codes.Aborted || st.Message() != "RpcError" {
			t.Fatalf("call %d to the faulted node: %v, want ABORTED RpcError", i, err)
		}
	}
	if reply, err := as.DrainNode(ctx, idleDrain(nodeID("uid-w-2"))); err != nil || !reply.IsAccepted {
		t.Fatalf("the other node: %v %v", reply, err)
	}
	if reply, err := as.DrainNode(ctx, idleDrain(nodeID("uid-w-1"))); err != nil || !reply.IsAccepted {
		t.Fatalf("third call, the fault used up: %v %v", reply, err)
	}
	var faults []drainFault
	_, body := control(t, h, "GET", "/v1/clusters/team/a/drain-faults", "")
	if err := json.Unmarshal([]byte(body), &faults); err != nil || len(faults) != 1 || faults[0].Failed != 2 || faults[0].Remaining != 0 {
		t.Fatalf("GET drain-faults: %s (%v)", body, err)
	}
	var calls []drainCall
	_, body = control(t, h, "GET", "/v1/clusters/team/a/drains", "")
	if err := json.Unmarshal([]byte(body), &calls); err != nil || len(calls) != 4 {
		t.Fatalf("GET drains: %s (%v)", body, err)
	}
	for i, want := range []struct{ pod, result, fault string }{{"w-1", drainFailed, "aborted"}, {"w-1", drainFailed, "aborted"},
		{"w-2", drainAccepted, ""}, {"w-1", drainAccepted, ""}} {
		if c := calls[i]; c.Pod != want.pod || c.Result != want.result || c.Fault != want.fault || c.Reason != "DRAIN_NODE_REASON_IDLE_TERMINATION" {
			t.Errorf("call %d = %+v, want %+v", i, c, want)
		}
	}
	if code, _ := control(t, h, "DELETE", "/v1/clusters/team/a/drains", ""); code != http.StatusNoContent {
		t.Fatal("DELETE drains")
	}
	if _, body = control(t, h, "GET", "/v1/clusters/team/a/drains", ""); body != "[]\n" {
		t.Errorf("after DELETE: %s", body)
	}
	for _, bad := range []string{`{"mode":"slow"}`, `{"mode":"aborted","times":-1}`, `{"mode":"unknown","applyLate":true}`} {
		if code, _ := control(t, h, "PUT", "/v1/clusters/team/a/drain-faults/w-1", bad); code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", bad, code)
		}
	}
}

// UNKNOWN until cleared; a deadline fault holds the call until the
// caller's deadline, and with applyLate the drain lands after the caller
// gave up.
func TestDrainFaultModes(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "a", []*corev1.Pod{pod("w-1", "g", "worker", "2"), pod("w-2", "g", "worker", "2")})
	h := s.Handler()
	as, _ := clients(t, s, "team", "a")
	control(t, h, "PUT", "/v1/clusters/team/a/drain-faults/w-1", `{"mode":"unknown"}`)
	for range 3 {
		if _, err := as.DrainNode(context.Background(), idleDrain(nodeID("uid-w-1"))); status.Code(err) != codes.Unknown {
			t.Fatalf("unknown fault: %v", err)
		}
	}
	if code, _ := control(t, h, "DELETE", "/v1/clusters/team/a/drain-faults/w-1", ""); code != http.StatusNoContent {
		t.Fatalf("DELETE drain fault: %d", code)
	}
	control(t, h, "PUT", "/v1/clusters/team/a/drain-faults/w-2", `{"mode":"deadline","times":1,"applyLate":true}`)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := as.DrainNode(ctx, idleDrain(nodeID("uid-w-2"))); status.Code(err) != codes.DeadlineExceeded || time.Since(start) < 150*time.Millisecond {
		t.Fatalf("deadline fault: %v after %s", err, time.Since(start))
	}
	c := s.cluster("team", "a")
	deadline := time.Now().Add(5 * time.Second)
	// The call is recorded once it returns, just after the late drain lands.
	for statusOf(s, "team", "a", "w-2") != rpcpb.NodeStatus_DRAINING || len(c.drainRecord()) < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("the late drain never landed: %v", statusOf(s, "team", "a", "w-2"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if calls := c.drainRecord(); len(calls) != 4 || calls[3].Code != "DeadlineExceeded" || calls[3].Fault != DrainFaultDeadline {
		t.Errorf("drain record = %+v", calls)
	}
}
