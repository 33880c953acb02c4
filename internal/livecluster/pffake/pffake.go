// Package pffake is an API server that serves only pods/portforward, as
// the kubelet does behind a real one: each forwarded connection is joined
// to a TCP address the test chooses. It lets tests run client-go's
// port-forward (SPDY) against a fake Ray GCS.
package pffake

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// protocol is the port-forward protocol client-go speaks
// (k8s.io/client-go/tools/portforward PortForwardProtocolV1Name).
const protocol = "portforward.k8s.io"

// portForwardPath is the path of the pods/portforward subresource.
var portForwardPath = regexp.MustCompile(`^/api/v1/namespaces/[^/]+/pods/[^/]+/portforward$`)

// Forward is one forwarded connection as the server saw it.
type Forward struct {
	// Path is the request path, naming the pod:
	// /api/v1/namespaces/<ns>/pods/<name>/portforward.
	Path string
	// Port is the pod port the client asked for.
	Port string
}

// Server answers port-forward requests for any pod by connecting to
// Target.
type Server struct {
	// Config reaches the server, as a kubeconfig would reach an API server.
	Config *rest.Config

	target   string
	mu       sync.Mutex
	forwards []Forward
	errors   map[string]httpstream.Stream // error streams by request id
}

// Start serves until tb ends; every forwarded connection is joined to
// target (host:port).
func Start(tb testing.TB, target string) *Server {
	tb.Helper()
	s := &Server{target: target, errors: map[string]httpstream.Stream{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.Config = &rest.Config{Host: srv.URL}
	return s
}

// Forwards are the connections forwarded so far.
func (s *Server) Forwards() []Forward {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Forward(nil), s.forwards...)
}

func (s *Server) serve(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || !portForwardPath.MatchString(req.URL.Path) {
		http.Error(w, "only pods/portforward is served", http.StatusNotFound)
		return
	}
	if _, err := httpstream.Handshake(req, w, []string{protocol}); err != nil {
		return // Handshake answered
	}
	path := req.URL.Path
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, req, func(st httpstream.Stream, _ <-chan struct{}) error {
		h := st.Headers()
		if h.Get(corev1.StreamType) == corev1.StreamTypeError {
			// Registered before the reply: the client creates a
			// connection's data stream only after its error stream.
			s.mu.Lock()
			s.errors[h.Get(corev1.PortForwardRequestIDHeader)] = st
			s.mu.Unlock()
			return nil
		}
		go s.data(path, st)
		return nil
	})
	if conn == nil {
		return
	}
	<-conn.CloseChan()
}

// data joins a data stream to the target, as the kubelet joins it to the
// pod's port, and closes its error stream when done, with the dial error
// in it if there was one.
func (s *Server) data(path string, st httpstream.Stream) {
	h := st.Headers()
	id := h.Get(corev1.PortForwardRequestIDHeader)
	s.mu.Lock()
	s.forwards = append(s.forwards, Forward{Path: path, Port: h.Get(corev1.PortHeader)})
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		errStream := s.errors[id]
		delete(s.errors, id)
		s.mu.Unlock()
		if errStream != nil {
			_ = errStream.Close()
		}
		_ = st.Close()
	}()
	c, err := net.Dial("tcp", s.target)
	if err != nil {
		s.mu.Lock()
		errStream := s.errors[id]
		s.mu.Unlock()
		if errStream != nil {
			fmt.Fprintf(errStream, "dial %s: %v", s.target, err)
		}
		return
	}
	defer c.Close()
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(c, st)
		// The client is done sending: so is the connection to the target,
		// which then ends its side.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		close(done)
	}()
	_, _ = io.Copy(st, c)
	<-done
}
