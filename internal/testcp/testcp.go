// Package testcp holds the small pieces that tests and benchmarks use to run
// raypilot's servers for real: free ports and readiness waits.
package testcp

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// MustFreePort is FreePort for set-up code that cannot go on without one.
func MustFreePort() int {
	port, err := FreePort()
	if err != nil {
		panic(err)
	}
	return port
}

// WaitReady polls a /readyz URL (with ?verbose, so a failure says which
// check fails) until it answers 200, the server exits (a value on exited),
// ctx ends or timeout passes.
func WaitReady(ctx context.Context, url string, timeout time.Duration, exited <-chan error) error {
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("server exited before it was ready: %v", err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		resp, err := http.Get(url + "?verbose")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = string(body)
		} else {
			last = err.Error()
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("not ready at %s after %s: %s", url, timeout, last)
}
