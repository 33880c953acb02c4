package livecluster

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"github.com/go-logr/zapr"
	"go.uber.org/zap"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/klog/v2"
)

// Forward is a port-forward from a loopback address to a port of a pod,
// through the API server, as `kubectl port-forward` makes one.
//
// gRPC needs HTTP/2 end to end and calls paths such as
// /ray.rpc.autoscaler.AutoscalerStateService/GetClusterResourceState. The
// API server's pod proxy (pods/proxy) speaks HTTP/1.1 to the pod and
// serves only paths under its own prefix, so it cannot carry the GCS's
// gRPC; a port-forward carries raw TCP in a SPDY stream and can.
type Forward struct {
	// Addr is the loopback host:port that reaches the pod's port.
	Addr string

	cancel context.CancelFunc
	done   chan struct{}
}

// PortForward forwards a free loopback port to port of pod through the API
// server of cfg, and returns once the local port listens. Errors of the
// forwarded connections (the pod refusing the port, say) are logged to log
// as client-go reports them. Close the Forward when done; ctx ending closes
// it too.
func PortForward(ctx context.Context, cfg *rest.Config, pod types.NamespacedName, port int, log *zap.Logger) (*Forward, error) {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	transport, upgrader, err := spdy.RoundTripperFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	url := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(pod.Namespace).Name(pod.Name).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, url)

	ctx, cancel := context.WithCancel(ctx)
	ctx = klog.NewContext(ctx, zapr.NewLogger(log.Named("port-forward")))
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(ctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(port)}, ready, nil, nil)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("port-forward to pod %s: %w", pod, err)
	}
	f := &Forward{cancel: cancel, done: make(chan struct{})}
	failed := make(chan error, 1)
	go func() {
		defer close(f.done)
		if err := pf.ForwardPorts(); err != nil {
			failed <- err
		}
	}()
	select {
	case <-ready:
	case err := <-failed:
		cancel()
		return nil, fmt.Errorf("port-forward to port %d of pod %s: %w", port, pod, err)
	case <-ctx.Done():
		cancel()
		<-f.done
		return nil, fmt.Errorf("port-forward to port %d of pod %s: %w", port, pod, ctx.Err())
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		f.Close()
		return nil, fmt.Errorf("port-forward to port %d of pod %s: no local port (%v)", port, pod, err)
	}
	f.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local)))
	return f, nil
}

// Close stops forwarding and waits until the local port is closed.
func (f *Forward) Close() {
	f.cancel()
	<-f.done
}
