package tlsserver

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptrace"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// tracedClient sends reviews and records, per request, whether it went out
// on a reused connection.
type tracedClient struct {
	http *http.Client
	addr string
}

func newTracedClient(r *running, http2 bool) *tracedClient {
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: r.roots}, ForceAttemptHTTP2: http2}
	if !http2 {
		// A non-nil empty map turns HTTP/2 off.
		tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	}
	return &tracedClient{http: &http.Client{Transport: tr, Timeout: 10 * time.Second}, addr: r.addr}
}

// send posts one review and reports whether it reused a connection, the
// negotiated protocol and whether the response asked to close.
func (c *tracedClient) send(t *testing.T, uid string) (reused bool, proto string, closing bool) {
	t.Helper()
	var mu sync.Mutex
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		mu.Lock()
		reused = i.Reused
		mu.Unlock()
	}}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, "https://"+c.addr+"/validate", bytes.NewReader(review(uid)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatalf("review %s: %v", uid, err)
	}
	defer resp.Body.Close()
	if ar := readReview(t, resp.Body); string(ar.UID) != uid || !ar.Allowed {
		t.Fatalf("review %s answered uid=%q allowed=%v", uid, ar.UID, ar.Allowed)
	}
	mu.Lock()
	defer mu.Unlock()
	return reused, resp.Proto, resp.Close
}

// Once shutdown starts, every response ends its connection gracefully
// (HTTP/1.1 "Connection: close", HTTP/2 GOAWAY), so a client holding a
// keep-alive connection reconnects, through the Service, to another replica
// instead of writing its next review into a connection the server is about
// to close.
func TestShutdownMovesKeepAliveClientsOff(t *testing.T) {
	for _, tc := range []struct {
		name  string
		http2 bool
		proto string
	}{
		{"HTTP/1.1", false, "HTTP/1.1"},
		{"HTTP/2", true, "HTTP/2.0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hook := &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
				return admission.Allowed("")
			})}
			r := start(t, Options{ShutdownDelay: 3 * time.Second}, hook)
			c := newTracedClient(r, tc.http2)

			if _, proto, _ := c.send(t, "first"); proto != tc.proto {
				t.Fatalf("protocol %s, want %s", proto, tc.proto)
			}
			if reused, _, closing := c.send(t, "serving"); !reused || closing {
				t.Fatalf("while serving: reused=%v closing=%v, want a kept-alive connection", reused, closing)
			}

			r.cancel()
			// The drain flag is set right after the context ends; give the
			// server's goroutine a moment to see it.
			time.Sleep(100 * time.Millisecond)
			reused, _, closing := c.send(t, "draining")
			if !reused {
				t.Fatal("the review after shutdown began did not use the open connection")
			}
			if !tc.http2 && !closing {
				t.Error("HTTP/1.1 response during the drain lacks Connection: close")
			}
			// HTTP/2 delivers its GOAWAY with the response; allow it to be read.
			time.Sleep(100 * time.Millisecond)
			if reused, _, _ := c.send(t, "after-notice"); reused {
				t.Error("the client kept using the connection after the server asked it to close")
			}
		})
	}
}
