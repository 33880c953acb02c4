package gcs

import (
	"context"
	"fmt"
	"runtime/pprof"
	"strings"
	"testing"
)

// clientGoroutines counts the goroutines gRPC runs on the client side: those
// whose stack is in grpc but not in its server (the fake GCS runs in the
// same process), with their stacks for the failure message.
func clientGoroutines(t *testing.T) (int, string) {
	t.Helper()
	var b strings.Builder
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	_, body, _ := strings.Cut(b.String(), "\n")
	n := 0
	var kept []string
	for _, g := range strings.Split(body, "\n\n") {
		if !strings.Contains(g, "google.golang.org/grpc") || strings.Contains(g, "http2Server") || strings.Contains(g, "NewServerTransport") || strings.Contains(g, "grpc.(*Server)") {
			continue
		}
		var count int
		if _, err := fmt.Sscanf(g, "%d @", &count); err == nil {
			n += count
			kept = append(kept, g)
		}
	}
	return n, strings.Join(kept, "\n\n")
}

// maxGoroutinesPerConnection is what a GCS connection costs: gRPC's
// reader and writer of the transport and the three callback serializers of
// a ClientConn (resolver, balancer, connectivity state). A DNS resolver or
// keep-alive would each add one; at 2,000 clusters every goroutine per
// connection is 2,000 stacks.
const maxGoroutinesPerConnection = 5

func TestGoroutinesPerConnection(t *testing.T) {
	addr := startServer(t, &fakeGCS{})
	_, port, _ := strings.Cut(addr, ":")
	before, _ := clientGoroutines(t)
	const conns = 10
	for range conns {
		// A host name, as the head Services are: gRPC's DNS resolver would
		// watch it.
		c := dial(t, "localhost:"+port, Options{})
		if _, err := c.GetClusterResourceState(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	after, stacks := clientGoroutines(t)
	if per := float64(after-before) / conns; per > maxGoroutinesPerConnection {
		t.Errorf("%.1f goroutines per GCS connection, want at most %d:\n%s", per, maxGoroutinesPerConnection, stacks)
	}
}
