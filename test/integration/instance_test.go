package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"k8s.io/client-go/rest"

	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/webhook"
)

// instance is one `raypilot webhook` (webhook.Run) started by a test.
type instance struct {
	name    string
	port    int    // HTTPS port on 127.0.0.1
	addr    string // host:port of the webhook
	health  string // base URL of the probe listener
	metrics string // base URL of the metrics listener
	writes  atomic.Int64
	cancel  context.CancelFunc
	done    chan struct{}
	err     error
}

// startInstance is runInstance for a test, which stops the instance at its
// end.
func startInstance(t *testing.T, name string, cfg *rest.Config, opts webhook.Options) *instance {
	t.Helper()
	log, _ := zap.NewDevelopment(zap.IncreaseLevel(zap.InfoLevel))
	in, err := runInstance(name, cfg, opts, log.Named(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(in.stop)
	return in
}

// runInstance runs webhook.Run with opts as cfg's user, serving HTTPS,
// probes and metrics on free ports of 127.0.0.1 (it sets opts' Host, Port,
// HealthAddr and MetricsAddr), and returns once all three listeners are
// bound. Run binds the port numbers it is given: when another process took
// one after it was chosen, Run fails, and it runs again on new ports
// (testcp.WithFreePorts). The instance counts its writes to Secrets and
// webhook configurations.
func runInstance(name string, cfg *rest.Config, opts webhook.Options, log *zap.Logger) (*instance, error) {
	var in *instance
	err := testcp.WithFreePorts(3, func(ports []int) error {
		in = launch(name, cfg, opts, ports, log)
		if err := in.bound(60 * time.Second); err != nil {
			in.stop()
			return err
		}
		return nil
	})
	return in, err
}

// launch runs webhook.Run on ports (HTTPS, probes, metrics).
func launch(name string, cfg *rest.Config, opts webhook.Options, ports []int, log *zap.Logger) *instance {
	in := &instance{name: name, port: ports[0], addr: localAddr(ports[0]),
		health: "http://" + localAddr(ports[1]), metrics: "http://" + localAddr(ports[2]), done: make(chan struct{})}
	cfg = rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(req *http.Request) (*http.Response, error) {
			if req.Method != http.MethodGet && (strings.Contains(req.URL.Path, "/secrets") || strings.Contains(req.URL.Path, "webhookconfigurations")) {
				in.writes.Add(1)
			}
			return rt.RoundTrip(req)
		})
	}
	opts.Host, opts.Port = "127.0.0.1", ports[0]
	opts.HealthAddr, opts.MetricsAddr = localAddr(ports[1]), localAddr(ports[2])
	ctx, cancel := context.WithCancel(context.Background())
	in.cancel = cancel
	go func() {
		defer close(in.done)
		in.err = webhook.Run(ctx, cfg, opts, log)
	}()
	return in
}

// bound waits until the instance serves on all its ports (its "webhook"
// readiness check, tlsserver.Server.StartedChecker, passes once the TLS
// listener is bound; the probe and metrics listeners answer) or Run
// returns first, with its error.
func (in *instance) bound(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-in.done:
			return fmt.Errorf("%s: webhook.Run returned before it served: %w", in.name, in.err)
		default:
		}
		tlsCode, tlsState := probe(in.health + "/readyz/webhook")
		metricsCode, metricsState := 0, "not tried"
		if tlsCode == http.StatusOK {
			if metricsCode, metricsState = probe(in.metrics + "/metrics"); metricsCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not serving after %s: /readyz/webhook %d %s; /metrics %d %.200s", in.name, timeout, tlsCode, tlsState, metricsCode, metricsState)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// exited reports Run's error once it has returned.
func (in *instance) exited() <-chan error {
	ch := make(chan error, 1)
	go func() {
		<-in.done
		ch <- in.err
	}()
	return ch
}

// stop cancels the instance and waits for Run to return.
func (in *instance) stop() {
	in.cancel()
	<-in.done
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
