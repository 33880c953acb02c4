package gcs

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// observed records what a CallObserver is told.
type observed struct {
	mu    sync.Mutex
	calls []string
}

func (o *observed) observe(call string, code codes.Code, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if elapsed < 0 {
		code = codes.Internal // a negative duration is a bug the test shows
	}
	o.calls = append(o.calls, call+" "+code.String())
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.calls
	o.calls = nil
	return out
}

// Every request of a Client reaches Options.Observe, over real gRPC: the
// connection attempt as Dial, each RPC under the name its errors give it
// (the two DrainNode methods apart), with the status code it ended with.
// An RPC refused for want of a credential was never sent and is not told.
func TestObserveCalls(t *testing.T) {
	ctx := context.Background()
	g := gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if info.FullMethod == rpcpb.AutoscalerStateService_ReportAutoscalingState_FullMethodName {
			return nil, status.Error(codes.ResourceExhausted, "busy")
		}
		return next(ctx, req)
	}))
	g.Autoscaler.OnDrain(func(*rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
		return nil, status.Error(codes.Aborted, "raylet failed")
	})
	var o observed
	c, err := Dial(ctx, g.Addr, Options{Timeout: 5 * time.Second, Observe: o.observe})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	node := make([]byte, NodeIDSize)
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RayVersion(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportAutoscalingState(ctx, &rpcpb.AutoscalingState{}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("report: %v, want ResourceExhausted", err)
	}
	if _, _, err := c.DrainNode(ctx, node, rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle", time.Time{}); status.Code(err) != codes.Aborted {
		t.Fatalf("drain: %v, want Aborted", err)
	}
	if _, err := c.StopNode(ctx, node); err != nil {
		t.Fatal(err)
	}
	want := []string{"Dial OK", "GetClusterResourceState OK", "CheckAlive OK", "ReportAutoscalingState ResourceExhausted",
		"DrainNode Aborted", "NodeInfoGcsService.DrainNode OK"}
	if got := o.take(); !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}

	// Not sent: no token to send with it.
	failing := TokenSourceFunc(func(context.Context) (string, error) { return "", errors.New("no token") })
	var tokens int
	src := TokenSourceFunc(func(ctx context.Context) (string, error) {
		if tokens++; tokens > 1 {
			return failing(ctx)
		}
		return "a-token", nil
	})
	k, err := Dial(ctx, g.Addr, Options{Timeout: 5 * time.Second, Auth: AuthKubernetes, TokenSource: src, Observe: o.observe})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.GetClusterResourceState(ctx); !errors.Is(err, ErrCredential) {
		t.Fatalf("without a token: %v, want ErrCredential", err)
	}
	if got := o.take(); !slices.Equal(got, []string{"Dial OK"}) {
		t.Errorf("observed %q, want only the dial", got)
	}

	// A GCS that is down: the connection attempt times out.
	g.Stop()
	if _, err := Dial(ctx, g.Addr, Options{Timeout: 200 * time.Millisecond, Observe: o.observe}); err == nil {
		t.Fatal("dialled a stopped GCS")
	}
	if got := o.take(); !slices.Equal(got, []string{"Dial DeadlineExceeded"}) {
		t.Errorf("observed %q, want a dial that timed out", got)
	}
}
