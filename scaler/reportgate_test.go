package scaler

import (
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// The scaler reports a cluster's autoscaling state when it changed, when
// the GCS may have lost it (a new connection, session or version sequence)
// and every reportHeartbeat; not otherwise.
func TestLastReportDue(t *testing.T) {
	c1, c2 := &conn{}, &conn{}
	t0 := time.Unix(1700000000, 0)
	read := func(version int64, session string) *rpcpb.ClusterResourceState {
		return &rpcpb.ClusterResourceState{ClusterResourceStateVersion: version, ClusterSessionName: session}
	}
	launch := func(n int32) *rpcpb.AutoscalingState {
		return &rpcpb.AutoscalingState{PendingInstanceRequests: []*rpcpb.PendingInstanceRequest{{RayNodeTypeName: "cpu", InstanceTypeName: "cpu", Count: n}}}
	}
	var l lastReport
	steps := []struct {
		name    string
		conn    *conn
		seen    *rpcpb.ClusterResourceState
		next    *rpcpb.AutoscalingState
		at      time.Duration
		want    bool
		refused bool // the GCS did not accept the report
	}{
		{name: "first round", conn: c1, seen: read(5, "s"), next: launch(1), want: true},
		{name: "unchanged", conn: c1, seen: read(6, "s"), next: launch(1), at: time.Second},
		{name: "changed", conn: c1, seen: read(7, "s"), next: launch(2), at: 2 * time.Second, want: true},
		{name: "unchanged again", conn: c1, seen: read(9, "s"), next: launch(2), at: 3 * time.Second},
		{name: "heartbeat", conn: c1, seen: read(10, "s"), next: launch(2), at: 2*time.Second + reportHeartbeat, want: true},
		{name: "version sequence started over", conn: c1, seen: read(2, "s"), next: launch(2), at: 33 * time.Second, want: true},
		{name: "after the new sequence", conn: c1, seen: read(3, "s"), next: launch(2), at: 34 * time.Second},
		{name: "another session", conn: c1, seen: read(4, "t"), next: launch(2), at: 35 * time.Second, want: true},
		{name: "a new connection", conn: c2, seen: read(5, "t"), next: launch(2), at: 36 * time.Second, want: true, refused: true},
		{name: "a refused report is sent again", conn: c2, seen: read(6, "t"), next: launch(2), at: 37 * time.Second, want: true},
		{name: "accepted", conn: c2, seen: read(7, "t"), next: launch(2), at: 38 * time.Second},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		if got := l.due(s.conn, s.seen, s.next, now); got != s.want {
			t.Errorf("%s: due %t, want %t", s.name, got, s.want)
		}
		if s.want && !s.refused {
			l.sent(s.next, now)
		}
	}
}

// Through the rounds of one cluster: a GCS whose version grows with each
// read, as Ray's does, gets a report only when the state changes.
func TestRoundsReportOnlyChanges(t *testing.T) {
	st := pendingState()
	demand := st.PendingResourceRequests
	st.PendingResourceRequests = nil
	h := newReconcileHarness(t, st, interceptor.Funcs{}, inTreeTestCluster(false), headPod("rc-head", false))
	read := func() {
		t.Helper()
		st.ClusterResourceStateVersion++
		h.gcs.SetState(st)
		h.round()
	}
	read()
	read()
	read()
	if n := len(h.gcs.Reports()); n != 1 {
		t.Fatalf("%d reports after three rounds of one state, want 1", n)
	}
	st.PendingResourceRequests = demand
	read() // scales up: a launch to report
	reports := h.gcs.Reports()
	if len(reports) != 2 || len(reports[1].GetPendingInstanceRequests()) != 1 {
		t.Fatalf("reports %v after the demand came, want a second one with the launch", reports)
	}
	if last := reports[1]; last.GetLastSeenClusterResourceStateVersion() != st.ClusterResourceStateVersion || last.GetAutoscalerStateVersion() <= reports[0].GetAutoscalerStateVersion() {
		t.Errorf("report %v after %v: want the read's version and a growing autoscaler version", last, reports[0])
	}
}
