package gcs

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// fakeGCS is an in-process AutoscalerStateService that records what it
// receives.
type fakeGCS struct {
	rpcpb.UnimplementedAutoscalerStateServiceServer

	// Set before the server starts; read-only afterwards.
	state      *rpcpb.ClusterResourceState
	drainReply *rpcpb.DrainNodeReply
	hang       bool // handlers block until the call's context ends

	mu      sync.Mutex
	gets    []*rpcpb.GetClusterResourceStateRequest
	reports []*rpcpb.ReportAutoscalingStateRequest
	drains  []*rpcpb.DrainNodeRequest
	auth    [][]string // authorization metadata of every call, in order
}

func (f *fakeGCS) record(ctx context.Context, add func()) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auth = append(f.auth, md.Get(AuthMetadataKey))
	add()
}

func (f *fakeGCS) GetClusterResourceState(ctx context.Context, req *rpcpb.GetClusterResourceStateRequest) (*rpcpb.GetClusterResourceStateReply, error) {
	f.record(ctx, func() { f.gets = append(f.gets, proto.Clone(req).(*rpcpb.GetClusterResourceStateRequest)) })
	if f.hang {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	state := f.state
	if state == nil {
		state = &rpcpb.ClusterResourceState{}
	}
	return &rpcpb.GetClusterResourceStateReply{ClusterResourceState: state}, nil
}

func (f *fakeGCS) ReportAutoscalingState(ctx context.Context, req *rpcpb.ReportAutoscalingStateRequest) (*rpcpb.ReportAutoscalingStateReply, error) {
	f.record(ctx, func() { f.reports = append(f.reports, proto.Clone(req).(*rpcpb.ReportAutoscalingStateRequest)) })
	return &rpcpb.ReportAutoscalingStateReply{}, nil
}

func (f *fakeGCS) DrainNode(ctx context.Context, req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	f.record(ctx, func() { f.drains = append(f.drains, proto.Clone(req).(*rpcpb.DrainNodeRequest)) })
	if f.drainReply == nil {
		return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
	}
	return f.drainReply, nil
}

// requests returns copies of the request lists received so far.
func (f *fakeGCS) requests() (gets []*rpcpb.GetClusterResourceStateRequest, reports []*rpcpb.ReportAutoscalingStateRequest, drains []*rpcpb.DrainNodeRequest) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append(gets, f.gets...), append(reports, f.reports...), append(drains, f.drains...)
}

// authHeaders returns the authorization metadata of every call so far.
func (f *fakeGCS) authHeaders() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.auth...)
}

// requireToken is a server interceptor that behaves like a Ray GCS with
// RAY_AUTH_MODE=token. Its error message echoes what it received, so the
// tests can check that the client removes the token from errors.
func requireToken(want string) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get(AuthMetadataKey)
		if len(got) != 1 || got[0] != "Bearer "+want {
			return nil, status.Errorf(codes.Unauthenticated, "InvalidAuthToken: got %q", strings.Join(got, ","))
		}
		return next(ctx, req)
	}
}

// startServer serves srv (when non-nil) on 127.0.0.1:0 and returns the
// address. The server stops when the test ends.
func startServer(t *testing.T, srv rpcpb.AutoscalerStateServiceServer, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := grpc.NewServer(opts...)
	if srv != nil {
		rpcpb.RegisterAutoscalerStateServiceServer(s, srv)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(lis)
	}()
	t.Cleanup(func() {
		s.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial connects a client to addr and closes it when the test ends.
func dial(t *testing.T, addr string, opts Options) *Client {
	t.Helper()
	c, err := Dial(context.Background(), addr, opts)
	if err != nil {
		t.Fatalf("Dial(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
