// Package testcp holds the small pieces that tests and benchmarks use to run
// raypilot's servers for real: free ports and readiness waits.
package testcp

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

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
		resp, err := poll(ctx, url+"?verbose")
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

// pollTimeout bounds each readiness request: a port held by something that
// accepts connections and never answers (another process that took the
// port) must not stall the wait.
const pollTimeout = 2 * time.Second

func poll(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	return (&http.Client{Timeout: pollTimeout}).Do(req)
}
