package gcsfake

import (
	"fmt"
	"net"
	"sync"
	"testing"

	"google.golang.org/grpc"
)

// Serve serves srv on addr (host:port; port 0 picks a free one) until srv
// stops, and returns the address it listens on.
func Serve(srv *grpc.Server, addr string) (string, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("gcsfake: listen on %s: %w", addr, err)
	}
	go func() { _ = srv.Serve(lis) }()
	return lis.Addr().String(), nil
}

// GCS is an Autoscaler and a NodeInfo served together on one loopback
// address, as a Ray GCS serves both services.
type GCS struct {
	Autoscaler *Autoscaler
	NodeInfo   *NodeInfo
	// Addr is where the GCS listens, the same across Restart.
	Addr string

	opts []grpc.ServerOption
	mu   sync.Mutex
	srv  *grpc.Server
}

// Start serves a GCS with an empty state and DefaultRayVersion, built with
// opts, on a free loopback port until tb ends.
func Start(tb testing.TB, opts ...grpc.ServerOption) *GCS {
	tb.Helper()
	g := &GCS{Autoscaler: &Autoscaler{}, NodeInfo: &NodeInfo{}, opts: opts, Addr: "127.0.0.1:0"}
	if err := g.Restart(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(g.Stop)
	return g
}

// Stop closes the listener and every connection: to its clients the GCS is
// down, as when its pod dies.
func (g *GCS) Stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		g.srv.Stop()
		g.srv = nil
	}
}

// Restart serves the same services, with what they hold, on Addr again
// after Stop: the GCS came back. It does nothing while the GCS is serving.
func (g *GCS) Restart() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.srv != nil {
		return nil
	}
	srv := grpc.NewServer(g.opts...)
	g.Autoscaler.Register(srv)
	g.NodeInfo.Register(srv)
	addr, err := Serve(srv, g.Addr)
	if err != nil {
		return err
	}
	g.srv, g.Addr = srv, addr
	return nil
}
