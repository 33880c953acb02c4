// Package tlsserver is the HTTPS server behind raypilot's admission webhooks:
// a controller-runtime webhook.Server whose HTTP server has read, write and
// idle timeouts, a request body bound, and a shutdown that first moves
// clients to other replicas, then lets in-flight reviews finish. Its
// certificate comes from a CertificateSource given at construction.
//
// Why not controller-runtime's DefaultServer as is: its http.Server
// (pkg/internal/httpserver.New in v0.25.2) sets only ReadHeaderTimeout (32 s)
// and IdleTimeout (90 s), has no ReadTimeout or WriteTimeout, offers no hook
// to set them, hands handlers a request context that is cancelled the moment
// shutdown starts, and drains for a fixed minute. This server keeps the
// DefaultServer for Register (so the controller_runtime_webhook_* metrics
// still wrap every hook) and replaces Start and StartedChecker.
package tlsserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"
)

// Defaults. The API server waits at most 30 s for a webhook (timeoutSeconds
// is capped at 30), so no review needs longer to be read or answered; a
// connection that does is a slow or stuck client holding a goroutine.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	// DefaultIdleTimeout matches the keep-alive of Go's default transport,
	// which the API server's webhook client uses.
	DefaultIdleTimeout     = 90 * time.Second
	DefaultShutdownTimeout = 15 * time.Second
	// DefaultMaxBodyBytes equals controller-runtime's own limit
	// (pkg/webhook/admission/http.go, maxRequestSize = 7 MiB: two objects of
	// at most 3 MiB each plus 1 MiB of review), so nothing it would accept is
	// refused here; this bound only answers early, before the body is read.
	DefaultMaxBodyBytes = 7 << 20
)

// Options configure the server. Zero durations and sizes take the defaults.
type Options struct {
	// Host and Port to listen on (Host empty: all addresses).
	Host string
	Port int
	// Certificates supplies the serving certificate (required).
	Certificates CertificateSource
	// TLSOpts adjust the TLS configuration (minimum version, ALPN); the
	// certificate always comes from Certificates.
	TLSOpts []func(*tls.Config)

	ReadHeaderTimeout, ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// ShutdownDelay keeps serving for this long after the context ends,
	// answering every request with "Connection: close" (HTTP/2: a graceful
	// GOAWAY), so clients holding a keep-alive connection reconnect, through
	// the Service, to another replica. Removing a pod from a Service's
	// endpoints does not touch established connections: the API server keeps
	// sending reviews over its pooled one until the server ends it, and a
	// review written as the server closes that connection fails
	// ("write: broken pipe"; a POST is not retried).
	ShutdownDelay time.Duration
	// ShutdownTimeout bounds the drain of in-flight requests.
	ShutdownTimeout time.Duration
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64

	// Log receives start, stop and certificate source errors.
	Log *zap.Logger
}

func (o *Options) setDefaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&o.ReadTimeout, DefaultReadTimeout)
	set(&o.WriteTimeout, DefaultWriteTimeout)
	set(&o.IdleTimeout, DefaultIdleTimeout)
	set(&o.ShutdownTimeout, DefaultShutdownTimeout)
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Log == nil {
		o.Log = zap.NewNop()
	}
}

// Server implements controller-runtime's webhook.Server.
type Server struct {
	// inner is controller-runtime's DefaultServer, used for Register and
	// WebhookMux only; its Start is never called.
	inner crwebhook.Server
	opts  Options
	mux   *http.ServeMux

	// draining is set once the context ends: responses then ask the
	// client to close the connection.
	draining atomic.Bool

	mu      sync.Mutex
	addr    string // listening address, once started
	started bool
}

var _ crwebhook.Server = (*Server)(nil)

// New returns a server; register hooks, then hand it to the manager.
func New(o Options) *Server {
	o.setDefaults()
	mux := http.NewServeMux()
	return &Server{
		inner: crwebhook.NewServer(crwebhook.Options{Host: o.Host, Port: o.Port, WebhookMux: mux}),
		opts:  o,
		mux:   mux,
	}
}

// Register serves hook at path, wrapped in controller-runtime's webhook
// metrics (controller_runtime_webhook_requests_total, _latency_seconds,
// _requests_in_flight).
func (s *Server) Register(path string, hook http.Handler) { s.inner.Register(path, hook) }

// WebhookMux returns the request multiplexer.
func (s *Server) WebhookMux() *http.ServeMux { return s.mux }

// NeedLeaderElection is false: every replica serves.
func (s *Server) NeedLeaderElection() bool { return false }

// Start starts the certificate source and serves until ctx ends, then
// keeps serving for ShutdownDelay while asking every client to reconnect
// elsewhere, stops accepting connections, waits up to ShutdownTimeout for
// in-flight requests, and stops the certificate source.
func (s *Server) Start(ctx context.Context) error {
	if s.opts.Certificates == nil {
		return errors.New("webhook server: no certificate source")
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	for _, op := range s.opts.TLSOpts {
		op(cfg)
	}
	cfg.GetCertificate = s.opts.Certificates.GetCertificate
	ln, err := tls.Listen("tcp", net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port)), cfg)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// The source outlives ctx: handshakes go on during the shutdown delay.
	srcCtx, stopSource := context.WithCancel(context.WithoutCancel(ctx))
	sourceDone := make(chan struct{})
	go func() {
		defer close(sourceDone)
		if err := s.opts.Certificates.Start(srcCtx); err != nil {
			s.opts.Log.Error("certificate source stopped", zap.Error(err))
		}
	}()
	defer func() {
		stopSource()
		<-sourceDone
	}()
	srv := &http.Server{
		Handler:           closeWhen(&s.draining, limitBody(s.mux, s.opts.MaxBodyBytes)),
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    1 << 20,
		// Reviews already accepted must not see their context cancelled
		// when shutdown starts: they are what the drain waits for.
		BaseContext: func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	s.mu.Lock()
	s.addr, s.started = ln.Addr().String(), true
	s.mu.Unlock()

	drained := make(chan struct{})
	go func() {
		defer close(drained)
		<-ctx.Done()
		s.draining.Store(true)
		if s.opts.ShutdownDelay > 0 {
			s.opts.Log.Info("webhook server: still serving, closing each connection after its next response", zap.Duration("delay", s.opts.ShutdownDelay))
			time.Sleep(s.opts.ShutdownDelay)
		}
		s.opts.Log.Info("webhook server: draining in-flight reviews", zap.Duration("timeout", s.opts.ShutdownTimeout))
		sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.opts.Log.Error("webhook server: drain incomplete", zap.Error(err))
			_ = srv.Close()
		}
	}()
	s.opts.Log.Info("webhook server listening", zap.String("address", ln.Addr().String()))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	<-drained
	return nil
}

// StartedChecker is healthy once the server accepts TLS connections.
func (s *Server) StartedChecker() healthz.Checker {
	return func(*http.Request) error {
		s.mu.Lock()
		addr, started := s.addr, s.started
		s.mu.Unlock()
		if !started {
			return errors.New("webhook server not started")
		}
		d := &net.Dialer{Timeout: 5 * time.Second}
		// Only reachability is checked here; who trusts the certificate is
		// the certificate checks' business.
		conn, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // reachability probe
		if err != nil {
			return fmt.Errorf("webhook server not reachable: %w", err)
		}
		return conn.Close()
	}
}

// closeWhen marks every response "Connection: close" once draining is set:
// net/http then closes an HTTP/1.1 connection after the response, and its
// HTTP/2 server turns the header into a graceful GOAWAY (h2_bundle.go,
// writeChunk), after which the client opens a new connection for its next
// request. Closing an idle connection instead races with a client that is
// just writing a request on it.
func closeWhen(draining *atomic.Bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody refuses a declared body over max before reading it (a client
// sending "Expect: 100-continue" then never sends it) and caps an undeclared
// one, which also makes the server close the connection after answering.
func limitBody(next http.Handler, max int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			http.Error(w, fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, max), http.StatusRequestEntityTooLarge)
			return
		}
		// A shallow copy: net/http decides whether to close the connection
		// after an unread body by the type of its own request's Body.
		capped := *r
		capped.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, &capped)
	})
}
