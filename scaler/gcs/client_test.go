package gcs

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

const testToken = "s3cr3t-ray-token-0123456789abcdef"

func testNodeID(b byte) []byte {
	id := make([]byte, NodeIDSize)
	for i := range id {
		id[i] = b + byte(i)
	}
	return id
}

func TestGetClusterResourceStateSendsVersionZeroAndDecodesReply(t *testing.T) {
	want := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: 17,
		ClusterSessionName:          "session_2025",
		NodeStates: []*rpcpb.NodeState{{
			NodeId:             testNodeID(1),
			InstanceId:         "rc-workers-abcde",
			RayNodeTypeName:    "workers",
			AvailableResources: map[string]float64{"CPU": 2},
			TotalResources:     map[string]float64{"CPU": 4, "memory": 8e9},
			Status:             rpcpb.NodeStatus_IDLE,
			IdleDurationMs:     61000,
			NodeIpAddress:      "10.0.0.7",
		}},
		PendingResourceRequests: []*rpcpb.ResourceRequestByCount{{
			Request: &rpcpb.ResourceRequest{ResourcesBundle: map[string]float64{"GPU": 1}},
			Count:   3,
		}},
	}
	srv := &fakeGCS{state: want}
	c := dial(t, startServer(t, srv), Options{})

	for range 2 {
		got, err := c.GetClusterResourceState(context.Background())
		if err != nil {
			t.Fatalf("GetClusterResourceState: %v", err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("state = %v, want %v", got, want)
		}
	}
	gets, _, _ := srv.requests()
	if len(gets) != 2 {
		t.Fatalf("server got %d requests, want 2", len(gets))
	}
	for i, req := range gets {
		if v := req.GetLastSeenClusterResourceStateVersion(); v != 0 {
			t.Errorf("request %d: last_seen_cluster_resource_state_version = %d, want 0", i, v)
		}
	}
	if err := c.Probe(context.Background()); err != nil {
		t.Errorf("Probe: %v", err)
	}
}

func TestReportAutoscalingState(t *testing.T) {
	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), Options{})
	state := &rpcpb.AutoscalingState{
		LastSeenClusterResourceStateVersion: 17,
		AutoscalerStateVersion:              1764000000000,
		PendingInstanceRequests: []*rpcpb.PendingInstanceRequest{{
			RayNodeTypeName: "workers", Count: 2, RequestTs: 1764000000,
		}},
		InfeasibleResourceRequests: []*rpcpb.ResourceRequest{{ResourcesBundle: map[string]float64{"TPU": 8}}},
	}
	if err := c.ReportAutoscalingState(context.Background(), state); err != nil {
		t.Fatalf("ReportAutoscalingState: %v", err)
	}
	_, reports, _ := srv.requests()
	if len(reports) != 1 || !proto.Equal(reports[0].GetAutoscalingState(), state) {
		t.Fatalf("server got %v, want one report of %v", reports, state)
	}
	if err := c.ReportAutoscalingState(context.Background(), nil); err == nil {
		t.Error("ReportAutoscalingState(nil) succeeded, want an error")
	}
}

func TestDrainNode(t *testing.T) {
	deadline := time.UnixMilli(1764000123456)
	tests := []struct {
		name         string
		reply        *rpcpb.DrainNodeReply
		reason       rpcpb.DrainNodeReason
		deadline     time.Time
		wantAccepted bool
		wantReject   string
		wantDeadline int64
	}{{
		name:         "accepted idle termination without deadline",
		reply:        &rpcpb.DrainNodeReply{IsAccepted: true},
		reason:       rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION,
		wantAccepted: true,
	}, {
		name:       "rejected",
		reply:      &rpcpb.DrainNodeReply{RejectionReasonMessage: "The node to be idle terminated is no longer idle."},
		reason:     rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION,
		wantReject: "The node to be idle terminated is no longer idle.",
	}, {
		name:         "idle termination with deadline",
		reply:        &rpcpb.DrainNodeReply{IsAccepted: true},
		reason:       rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION,
		deadline:     deadline,
		wantAccepted: true,
		wantDeadline: 1764000123456,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &fakeGCS{drainReply: tt.reply}
			c := dial(t, startServer(t, srv), Options{})
			id := testNodeID(9)
			accepted, reject, err := c.DrainNode(context.Background(), id, tt.reason, "idle for 60s", tt.deadline)
			if err != nil {
				t.Fatalf("DrainNode: %v", err)
			}
			if accepted != tt.wantAccepted || reject != tt.wantReject {
				t.Errorf("DrainNode = (%t, %q), want (%t, %q)", accepted, reject, tt.wantAccepted, tt.wantReject)
			}
			want := &rpcpb.DrainNodeRequest{
				NodeId: id, Reason: tt.reason, ReasonMessage: "idle for 60s", DeadlineTimestampMs: tt.wantDeadline,
			}
			_, _, drains := srv.requests()
			if len(drains) != 1 || !proto.Equal(drains[0], want) {
				t.Errorf("server got %v, want %v", drains, want)
			}
		})
	}
}

func TestDrainNodeRejectsBadArguments(t *testing.T) {
	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), Options{})
	idle := rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION
	cases := map[string]func() error{
		"short node id": func() error {
			_, _, err := c.DrainNode(context.Background(), []byte{1, 2}, idle, "", time.Time{})
			return err
		},
		"preemption, which Ray's autoscaler never sends": func() error {
			_, _, err := c.DrainNode(context.Background(), testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_PREEMPTION, "", time.Time{})
			return err
		},
		"unspecified reason": func() error {
			_, _, err := c.DrainNode(context.Background(), testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_UNSPECIFIED, "", time.Time{})
			return err
		},
		"deadline before epoch": func() error {
			_, _, err := c.DrainNode(context.Background(), testNodeID(1), idle, "", time.Unix(-5, 0))
			return err
		},
	}
	for name, call := range cases {
		if err := call(); err == nil {
			t.Errorf("%s: DrainNode succeeded, want an error", name)
		} else if !strings.Contains(err.Error(), c.Addr()) {
			t.Errorf("%s: error %q does not name the address", name, err)
		}
	}
	if _, _, drains := srv.requests(); len(drains) != 0 {
		t.Errorf("server got %d drain requests, want none", len(drains))
	}
}

func TestBearerMetadata(t *testing.T) {
	for _, token := range []string{"", testToken} {
		srv := &fakeGCS{}
		c := dial(t, startServer(t, srv), Options{Token: token})
		ctx := context.Background()
		if _, err := c.GetClusterResourceState(ctx); err != nil {
			t.Fatal(err)
		}
		if err := c.ReportAutoscalingState(ctx, &rpcpb.AutoscalingState{}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.DrainNode(ctx, testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "", time.Time{}); err != nil {
			t.Fatal(err)
		}
		headers := srv.authHeaders()
		if len(headers) != 3 {
			t.Fatalf("token set %t: server saw %d calls, want 3", token != "", len(headers))
		}
		for i, h := range headers {
			switch {
			case token == "" && len(h) != 0:
				t.Errorf("call %d without token: authorization metadata %q, want none", i, h)
			case token != "" && (len(h) != 1 || h[0] != "Bearer "+token):
				t.Errorf("call %d with token: authorization metadata has %d values, want exactly \"Bearer <token>\"", i, len(h))
			}
		}
	}
}

func TestUnauthenticatedMapsToErrUnauthenticated(t *testing.T) {
	addr := startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(requireToken(testToken)))
	for name, token := range map[string]string{"no token": "", "wrong token": "wrong-" + testToken} {
		c := dial(t, addr, Options{Token: token})
		err := c.Probe(context.Background())
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("%s: Probe error = %v, want ErrUnauthenticated", name, err)
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s: status code = %s, want Unauthenticated", name, status.Code(err))
		}
		assertNoToken(t, err, testToken, token)
	}
	c := dial(t, addr, Options{Token: testToken})
	if err := c.Probe(context.Background()); err != nil {
		t.Fatalf("Probe with the right token: %v", err)
	}
}

func TestMissingServiceMapsToErrUnsupportedRay(t *testing.T) {
	c := dial(t, startServer(t, nil), Options{Token: testToken})
	err := c.Probe(context.Background())
	if !errors.Is(err, ErrUnsupportedRay) {
		t.Fatalf("Probe error = %v, want ErrUnsupportedRay", err)
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("status code = %s, want Unimplemented", status.Code(err))
	}
	for _, want := range []string{"the GCS does not serve this call", "older than 2.8.0", c.Addr()} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	assertNoToken(t, err, testToken)
}

func TestPerCallTimeout(t *testing.T) {
	c := dial(t, startServer(t, &fakeGCS{hang: true}), Options{Timeout: 100 * time.Millisecond, Token: testToken})
	_, err := c.GetClusterResourceState(context.Background())
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("error = %v, want DeadlineExceeded", err)
	}
	assertNoToken(t, err, testToken)
}

func TestDialFailureNamesAddress(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	if err := lis.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), addr, Options{Timeout: 200 * time.Millisecond, Token: testToken})
	if err == nil {
		t.Fatal("Dial to a closed port succeeded")
	}
	if !strings.Contains(err.Error(), addr) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error %q should name %s and wrap context.DeadlineExceeded", err, addr)
	}
	assertNoToken(t, err, testToken)

	if _, err := Dial(context.Background(), "", Options{}); err == nil {
		t.Error("Dial with an empty address succeeded")
	}
	_, err = Dial(context.Background(), addr, Options{Token: "bad\ntoken-" + testToken})
	if err == nil {
		t.Fatal("Dial with a token holding a newline succeeded")
	}
	assertNoToken(t, err, testToken)
}

func TestStringHidesToken(t *testing.T) {
	opts := Options{Token: testToken}
	c := dial(t, startServer(t, &fakeGCS{}), opts)
	for _, s := range []string{
		opts.String(), c.String(),
		sprintAll(opts), sprintAll(&opts), sprintAll(c), sprintAll(bearerToken{value: testToken}),
	} {
		if strings.Contains(s, testToken) {
			t.Errorf("%q reveals the token", s)
		}
	}
	if !strings.Contains(c.String(), c.Addr()) || !strings.Contains(c.String(), redacted) {
		t.Errorf("String() = %q, want the address and %q", c.String(), redacted)
	}
}

// assertNoToken fails when err's message contains any of the tokens.
func assertNoToken(t *testing.T, err error, tokens ...string) {
	t.Helper()
	for _, tok := range tokens {
		if tok != "" && err != nil && strings.Contains(err.Error(), tok) {
			t.Errorf("error reveals a token: %q", err)
		}
	}
}
