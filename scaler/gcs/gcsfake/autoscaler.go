package gcsfake

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// Autoscaler serves AutoscalerStateService from a state the test sets, and
// records what the scaler sent. It decides nothing: tests that need Ray's
// behaviour (draining, idleness, placement) use e2e/raysim.
type Autoscaler struct {
	rpcpb.UnimplementedAutoscalerStateServiceServer

	mu      sync.Mutex
	state   *rpcpb.ClusterResourceState
	drain   func(*rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error)
	reads   int
	drains  []*rpcpb.DrainNodeRequest
	reports []*rpcpb.AutoscalingState
}

// Register serves a on srv.
func (a *Autoscaler) Register(srv *grpc.Server) { rpcpb.RegisterAutoscalerStateServiceServer(srv, a) }

// SetState sets what GetClusterResourceState answers.
func (a *Autoscaler) SetState(st *rpcpb.ClusterResourceState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.state = proto.Clone(st).(*rpcpb.ClusterResourceState)
}

// OnDrain sets how DrainNode answers; nil accepts every drain.
func (a *Autoscaler) OnDrain(f func(*rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.drain = f
}

// GetClusterResourceState implements AutoscalerStateServiceServer.
func (a *Autoscaler) GetClusterResourceState(context.Context, *rpcpb.GetClusterResourceStateRequest) (*rpcpb.GetClusterResourceStateReply, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reads++
	st := &rpcpb.ClusterResourceState{}
	if a.state != nil {
		st = proto.Clone(a.state).(*rpcpb.ClusterResourceState)
	}
	return &rpcpb.GetClusterResourceStateReply{ClusterResourceState: st}, nil
}

// ReportAutoscalingState implements AutoscalerStateServiceServer.
func (a *Autoscaler) ReportAutoscalingState(_ context.Context, req *rpcpb.ReportAutoscalingStateRequest) (*rpcpb.ReportAutoscalingStateReply, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reports = append(a.reports, req.GetAutoscalingState())
	return &rpcpb.ReportAutoscalingStateReply{}, nil
}

// DrainNode implements AutoscalerStateServiceServer.
func (a *Autoscaler) DrainNode(_ context.Context, req *rpcpb.DrainNodeRequest) (*rpcpb.DrainNodeReply, error) {
	a.mu.Lock()
	a.drains = append(a.drains, req)
	f := a.drain
	a.mu.Unlock()
	if f == nil {
		return &rpcpb.DrainNodeReply{IsAccepted: true}, nil
	}
	return f(req)
}

// Reads is the number of GetClusterResourceState calls.
func (a *Autoscaler) Reads() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.reads
}

// Drains returns the DrainNode requests received, in order.
func (a *Autoscaler) Drains() []*rpcpb.DrainNodeRequest {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*rpcpb.DrainNodeRequest(nil), a.drains...)
}

// Reports returns the reported states, in order.
func (a *Autoscaler) Reports() []*rpcpb.AutoscalingState {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]*rpcpb.AutoscalingState(nil), a.reports...)
}
