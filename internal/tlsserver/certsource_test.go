package tlsserver

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/certs"
)

// swapSource serves whichever certificate was set last and records its
// Start context.
type swapSource struct {
	cert    atomic.Pointer[tls.Certificate]
	mu      sync.Mutex
	started []context.Context
}

func (s *swapSource) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c := s.cert.Load(); c != nil {
		return c, nil
	}
	return nil, errors.New("no certificate")
}

func (s *swapSource) Start(ctx context.Context) error {
	s.mu.Lock()
	s.started = append(s.started, ctx)
	s.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (s *swapSource) contexts() []context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]context.Context(nil), s.started...)
}

func pair(t *testing.T) (*tls.Certificate, *x509.Certificate) {
	t.Helper()
	b, err := certs.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.X509KeyPair(b.Cert, b.Key)
	if err != nil {
		t.Fatal(err)
	}
	return &c, c.Leaf
}

// The server serves what its certificate source serves now, whatever it
// served before (no restart), runs the source once, and stops it only
// after it has stopped serving: not when shutdown begins, since the
// shutdown delay still accepts connections.
func TestServesItsCertificateSource(t *testing.T) {
	src := &swapSource{}
	first, firstLeaf := pair(t)
	src.cert.Store(first)
	r := start(t, Options{Certificates: src, ShutdownDelay: 500 * time.Millisecond}, http.NotFoundHandler())
	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", r.addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test compares the certificate itself
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if !served().Equal(firstLeaf) {
		t.Fatal("not serving the source's certificate")
	}
	second, secondLeaf := pair(t)
	src.cert.Store(second)
	if !served().Equal(secondLeaf) {
		t.Fatal("the source's new certificate is not served")
	}
	ctxs := src.contexts()
	if len(ctxs) != 1 {
		t.Fatalf("source started %d times, want once", len(ctxs))
	}
	r.cancel()
	time.Sleep(100 * time.Millisecond)
	if ctxs[0].Err() != nil {
		t.Error("the source was stopped when shutdown began, before the shutdown delay ended")
	}
	if !served().Equal(secondLeaf) {
		t.Error("not serving during the shutdown delay")
	}
	<-r.stopped
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ctxs[0].Err() == nil {
		t.Error("the source still runs after the server stopped")
	}
}

func TestServerWithoutCertificateSource(t *testing.T) {
	if err := New(Options{Host: "127.0.0.1"}).Start(context.Background()); err == nil {
		t.Fatal("started without a certificate source")
	}
}

// FileSource reads the pair when it is made and picks up a new one
// written to the directory while it runs.
func TestFileSourceReloads(t *testing.T) {
	if _, err := FileSource(t.TempDir()); err == nil {
		t.Error("a directory without a pair makes a source")
	}
	dir := t.TempDir()
	write := func() *x509.Certificate {
		t.Helper()
		b, err := certs.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.WriteDir(dir); err != nil {
			t.Fatal(err)
		}
		c, err := tls.X509KeyPair(b.Cert, b.Key)
		if err != nil {
			t.Fatal(err)
		}
		return c.Leaf
	}
	first := write()
	src, err := FileSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	current := func() *x509.Certificate {
		t.Helper()
		c, err := src.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf
	}
	if !current().Equal(first) {
		t.Fatal("not serving the directory's pair")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Start(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	// The file watch is set up asynchronously and may miss the write; the
	// poll re-reads within 10 s.
	next := write()
	for deadline := time.Now().Add(30 * time.Second); !current().Equal(next); {
		if time.Now().After(deadline) {
			t.Fatal("the new pair was not picked up")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
