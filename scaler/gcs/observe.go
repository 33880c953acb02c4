package gcs

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// CallDial names Dial's connection attempt to a CallObserver.
const CallDial = "Dial"

// CallObserver is told of every request a Client makes of a GCS: each RPC
// sent, named as in errors (GetClusterResourceState,
// ReportAutoscalingState, DrainNode, CheckAlive,
// NodeInfoGcsService.DrainNode), and each connection attempt of Dial
// (CallDial), with the gRPC status code it ended with and how long it
// took. An RPC that is not sent (no credential to send with it) is no
// request. It is called from the goroutine of the call: it must be quick
// and safe for concurrent use.
type CallObserver func(call string, code codes.Code, elapsed time.Duration)

// callNames are the calls' names by gRPC method. The node-info DrainNode
// (Client.StopNode) and the autoscaler's DrainNode share a method name.
var callNames = map[string]string{
	rpcpb.AutoscalerStateService_GetClusterResourceState_FullMethodName: rpcGetClusterResourceState,
	rpcpb.AutoscalerStateService_ReportAutoscalingState_FullMethodName:  rpcReportAutoscalingState,
	rpcpb.AutoscalerStateService_DrainNode_FullMethodName:               rpcDrainNode,
	nodeinfopb.NodeInfoGcsService_CheckAlive_FullMethodName:             rpcCheckAlive,
	nodeinfopb.NodeInfoGcsService_DrainNode_FullMethodName:              rpcStopNode,
}

// callName names method for a CallObserver; a method the Client does not
// call keeps its full name.
func callName(method string) string {
	if name, ok := callNames[method]; ok {
		return name
	}
	return method
}

// observe tells o of every RPC. It is the innermost interceptor, after
// authorize: an RPC refused for want of a credential never reaches it, and
// the time measured is the GCS's.
func observe(o CallObserver) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		start := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		o(callName(method), status.Code(err), time.Since(start))
		return err
	}
}

// dialCode is the gRPC code of waitReady's outcome, as an RPC on a
// connection that never became ready would end.
func dialCode(err error) codes.Code {
	switch {
	case err == nil:
		return codes.OK
	case errors.Is(err, context.DeadlineExceeded):
		return codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		return codes.Canceled
	default:
		return codes.Unavailable
	}
}
