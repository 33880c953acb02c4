package tlsserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/testcp"
)

// running is a started server and how to reach it.
type running struct {
	addr   string
	roots  *x509.CertPool
	cancel context.CancelFunc
	// stopped is closed when Start has returned, with its error in err.
	stopped chan struct{}
	err     error
}

func (r *running) dial() (*tls.Conn, error) {
	return tls.Dial("tcp", r.addr, &tls.Config{RootCAs: r.roots, ServerName: "127.0.0.1"})
}

func (r *running) client(expectContinue time.Duration) *http.Client {
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: r.roots},
		ExpectContinueTimeout: expectContinue,
	}}
}

// start runs a server on a free port with hook at /validate. The server
// binds the port number it is given, which another process may take after
// it was chosen: it then starts again on another (testcp.WithFreePorts).
func start(t *testing.T, o Options, hook http.Handler) *running {
	t.Helper()
	bundle, err := certs.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := bundle.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	if o.Certificates == nil {
		if o.Certificates, err = FileSource(dir); err != nil {
			t.Fatal(err)
		}
	}
	var r *running
	err = testcp.WithFreePorts(1, func(ports []int) error {
		var serr error
		r, serr = serve(o, ports[0], hook)
		return serr
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.stop)
	r.roots.AppendCertsFromPEM(bundle.CACert)
	return r
}

// serve runs a server with o on port of 127.0.0.1 and returns once it
// accepts connections; if it stops first (it could not bind the port) or
// does not start in time, nothing is left running and the error says why.
func serve(o Options, port int, hook http.Handler) (*running, error) {
	o.Host, o.Port = "127.0.0.1", port
	s := New(o)
	s.Register("/validate", hook)
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: fmt.Sprintf("127.0.0.1:%d", port), roots: x509.NewCertPool(), cancel: cancel, stopped: make(chan struct{})}
	go func() { r.err = s.Start(ctx); close(r.stopped) }()
	check := s.StartedChecker()
	deadline := time.Now().Add(10 * time.Second)
	for check(nil) != nil {
		select {
		case <-r.stopped:
			cancel()
			return nil, fmt.Errorf("server stopped before it started: %w", r.err)
		default:
		}
		if time.Now().After(deadline) {
			r.stop()
			return nil, fmt.Errorf("server not started: %w", check(nil))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return r, nil
}

// stop ends the server and waits until Start has returned.
func (r *running) stop() {
	r.cancel()
	<-r.stopped
}

func review(uid string) []byte {
	b, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metavMeta(),
		Request: &admissionv1.AdmissionRequest{
			UID:       types.UID(uid),
			Operation: admissionv1.Create,
			Object:    runtimeRaw(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"x"}}`),
		},
	})
	return b
}

func readReview(t *testing.T, body io.Reader) *admissionv1.AdmissionResponse {
	t.Helper()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(body).Decode(&out); err != nil {
		t.Fatalf("decode review: %v", err)
	}
	if out.Response == nil {
		t.Fatal("review without response")
	}
	return out.Response
}

// A review whose body is still arriving when shutdown starts is answered;
// new connections are refused meanwhile; the handler's context is not
// cancelled under it.
func TestShutdownFinishesInFlightReview(t *testing.T) {
	var handlerCtxErr atomic.Value
	hook := &admission.Webhook{Handler: admission.HandlerFunc(func(ctx context.Context, req admission.Request) admission.Response {
		handlerCtxErr.Store(fmt.Sprint(ctx.Err()))
		return admission.Allowed("drained")
	})}
	// entered closes when the server has read the request's headers and
	// handed it to the hook, which then reads the body. (A request whose
	// headers the server reads after Shutdown began is dropped by net/http
	// unanswered: that window is what Options.ShutdownDelay is for.)
	entered := make(chan struct{})
	r := start(t, Options{ShutdownTimeout: 20 * time.Second}, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		close(entered)
		hook.ServeHTTP(w, req)
	}))
	conn, err := r.dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := review("in-flight")
	half := len(body) / 2
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	<-entered
	r.cancel()
	// Shutdown has started once the listener refuses connections.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting 10s after the context ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case <-r.stopped:
		t.Fatalf("server returned with a review in flight: %v", r.err)
	default:
	}
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight review got no response: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	ar := readReview(t, resp.Body)
	if ar.UID != "in-flight" || !ar.Allowed {
		t.Fatalf("response uid=%q allowed=%v", ar.UID, ar.Allowed)
	}
	if got := handlerCtxErr.Load(); got != "<nil>" {
		t.Errorf("handler context error = %v, want none", got)
	}
	<-r.stopped
	if r.err != nil {
		t.Fatalf("Start: %v", r.err)
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// An oversized review is refused with 413 before its body is sent (client
// asking 100-continue), an undeclared oversized body is cut off, and the
// server keeps answering normal reviews.
func TestOversizedBodies(t *testing.T) {
	hook := &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})}
	r := start(t, Options{}, hook)
	url := "https://" + r.addr + "/validate"
	size := int64(DefaultMaxBodyBytes + 1<<20)

	body := &countingReader{r: io.LimitReader(zeros{}, size)}
	req, _ := http.NewRequest(http.MethodPost, url, body)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	resp, err := r.client(10 * time.Second).Do(req)
	if err != nil {
		t.Fatalf("declared oversized body: %v", err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("declared oversized body: status %d %s", resp.StatusCode, msg)
	}
	if sent := body.n.Load(); sent >= size {
		t.Errorf("client sent the whole %d-byte body before the 413", sent)
	}

	// Undeclared length (chunked): read up to the limit, then refused.
	req, _ = http.NewRequest(http.MethodPost, url, io.MultiReader(strings.NewReader(`{"x":"`), io.LimitReader(zeros{}, size)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err = r.client(0).Do(req)
	if err == nil {
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ok := resp.StatusCode == http.StatusRequestEntityTooLarge || resp.StatusCode == http.StatusBadRequest
		if resp.StatusCode == http.StatusOK {
			var out admissionv1.AdmissionReview
			ok = json.Unmarshal(msg, &out) == nil && out.Response != nil && !out.Response.Allowed && out.Response.Result != nil && out.Response.Result.Code >= 400
		}
		if !ok {
			t.Fatalf("chunked oversized body: status %d %.200s", resp.StatusCode, msg)
		}
	} // else: the server closed the connection after answering; the client saw the close first.

	resp, err = r.client(0).Post(url, "application/json", bytes.NewReader(review("after")))
	if err != nil {
		t.Fatalf("normal review after oversized ones: %v", err)
	}
	defer resp.Body.Close()
	if ar := readReview(t, resp.Body); ar.UID != "after" || !ar.Allowed {
		t.Fatalf("normal review after oversized ones: uid=%q allowed=%v", ar.UID, ar.Allowed)
	}
}

// A client that sends headers or a body too slowly has its connection
// closed by the server; so does a handler slower than the write timeout.
func TestTimeoutsCloseStuckConnections(t *testing.T) {
	release := make(chan struct{})
	hook := &admission.Webhook{Handler: admission.HandlerFunc(func(_ context.Context, req admission.Request) admission.Response {
		if req.UID == "slow-handler" {
			<-release
		}
		return admission.Allowed("")
	})}
	r := start(t, Options{ReadHeaderTimeout: 300 * time.Millisecond, ReadTimeout: 600 * time.Millisecond, WriteTimeout: 600 * time.Millisecond}, hook)
	closedByServer := func(name string, conn *tls.Conn) {
		t.Helper()
		// Far beyond the server's timeouts: if this deadline fires, the
		// server did not close the connection.
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		data, err := io.ReadAll(conn)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("%s: connection still open after 15s", name)
		}
		if bytes.Contains(data, []byte(`"allowed":true`)) {
			t.Errorf("%s: got an answer: %.200s", name, data)
		}
	}

	conn, err := r.dial()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: webhook\r\n")
	closedByServer("slow headers", conn)
	conn.Close()

	conn, err = r.dial()
	if err != nil {
		t.Fatal(err)
	}
	body := review("slow-body")
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = conn.Write(body[:10])
	closedByServer("slow body", conn)
	conn.Close()

	conn, err = r.dial()
	if err != nil {
		t.Fatal(err)
	}
	body = review("slow-handler")
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	_, _ = conn.Write(body)
	go func() {
		// Let the handler finish well after the write deadline.
		time.Sleep(1500 * time.Millisecond)
		close(release)
	}()
	closedByServer("slow handler", conn)
	conn.Close()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func metavMeta() metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"}
}

func runtimeRaw(s string) runtime.RawExtension { return runtime.RawExtension{Raw: []byte(s)} }
