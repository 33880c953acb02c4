package gcs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// metadataRecorder is a server interceptor keeping every call's whole
// incoming metadata.
type metadataRecorder struct {
	mu    sync.Mutex
	calls []metadata.MD
}

func (r *metadataRecorder) intercept(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, md.Copy())
	r.mu.Unlock()
	return next(ctx, req)
}

func (r *metadataRecorder) all() []metadata.MD {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]metadata.MD(nil), r.calls...)
}

// callAll makes each RPC of the autoscaler service once.
func callAll(t *testing.T, c *Client) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.ReportAutoscalingState(ctx, &rpcpb.AutoscalingState{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.DrainNode(ctx, testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle", time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// TestMetadataPerMode checks, on a real gRPC server, the exact
// authorization metadata of every RPC in each mode, and that no other
// metadata carries a token.
func TestMetadataPerMode(t *testing.T) {
	saToken := "eyJhbGciOiJSUzI1NiJ9.sa-" + testToken + ".sig"
	tests := []struct {
		name string
		opts Options
		want []string // the authorization values of one call
	}{
		{name: "none", opts: Options{}, want: nil},
		{name: "token", opts: Options{Auth: AuthToken, Token: testToken}, want: []string{"Bearer " + testToken}},
		{name: "token without Auth", opts: Options{Token: testToken}, want: []string{"Bearer " + testToken}},
		{name: "kubernetes", opts: Options{Auth: AuthKubernetes, TokenSource: &rotatingSource{current: saToken}}, want: []string{"Bearer " + saToken}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &metadataRecorder{}
			c := dial(t, startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(rec.intercept)), tt.opts)
			callAll(t, c)
			calls := rec.all()
			if len(calls) != 3 {
				t.Fatalf("server saw %d calls, want 3", len(calls))
			}
			for i, md := range calls {
				got := md.Get(AuthMetadataKey)
				if strings.Join(got, "|") != strings.Join(tt.want, "|") {
					t.Errorf("call %d: authorization has %d values, want exactly %d (%s)", i, len(got), len(tt.want), tt.name)
				}
				for k, vs := range md {
					if k == AuthMetadataKey {
						continue
					}
					for _, v := range vs {
						if strings.Contains(v, testToken) {
							t.Errorf("call %d: metadata %q carries a token", i, k)
						}
					}
				}
			}
		})
	}
}

// rotatingSource is a TokenSource whose token the test changes; it counts
// the calls and fails with err when set.
type rotatingSource struct {
	name    string
	mu      sync.Mutex
	current string
	err     error
	calls   int
}

func (s *rotatingSource) Token(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return s.current, s.err
}

func (s *rotatingSource) set(token string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.err = token, err
}

func (s *rotatingSource) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *rotatingSource) String() string { return s.name }

// plainSource is a TokenSource without a String method.
type plainSource struct{}

func (plainSource) Token(context.Context) (string, error) { return "plain-" + testToken, nil }

// TestKubernetesTokenPerRPC: the source is asked before every RPC, and each
// RPC carries the token it gave then, on the same connection.
func TestKubernetesTokenPerRPC(t *testing.T) {
	src := &rotatingSource{name: "test source", current: "old-" + testToken}
	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), Options{Auth: AuthKubernetes, TokenSource: src})
	ctx := context.Background()
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	src.set("new-"+testToken, nil)
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.authHeaders()
	if len(h) != 2 || len(h[0]) != 1 || len(h[1]) != 1 {
		t.Fatalf("authorization metadata %d calls, want 2 with one value each", len(h))
	}
	if h[0][0] != "Bearer old-"+testToken || h[1][0] != "Bearer new-"+testToken {
		t.Errorf("an RPC did not carry the token the source gave for it")
	}
	if n := src.count(); n != 3 {
		t.Errorf("source asked %d times, want 3 (Dial, then once per RPC)", n)
	}
	if !strings.Contains(c.String(), "test source") || strings.Contains(c.String(), testToken) {
		t.Errorf("Client.String() = %q: must name the source, never a token", c.String())
	}
}

// TestKubernetesSourceFailure: a source that cannot deliver fails Dial,
// naming the source and wrapping its error; once connected, an RPC whose
// token cannot be had is not sent at all, so the GCS never sees a call
// without its credential. Neither error shows a token.
func TestKubernetesSourceFailure(t *testing.T) {
	refused := errors.New("serviceaccounts \"ray-client\" is forbidden")
	src := &rotatingSource{name: "TokenRequest for ServiceAccount ns/ray-client", err: refused}
	srv := &fakeGCS{}
	addr := startServer(t, srv)
	_, err := Dial(context.Background(), addr, Options{Auth: AuthKubernetes, TokenSource: src})
	if !errors.Is(err, refused) || !strings.Contains(err.Error(), "ns/ray-client") || !strings.Contains(err.Error(), addr) {
		t.Fatalf("Dial error = %v, want one wrapping the source's, naming the source and the address", err)
	}

	src.set("first-"+testToken, nil)
	c := dial(t, addr, Options{Auth: AuthKubernetes, TokenSource: src})
	src.set("", refused)
	_, err = c.GetClusterResourceState(context.Background())
	if !errors.Is(err, refused) {
		t.Fatalf("RPC error = %v, want the source's", err)
	}
	src.set("", nil)
	if _, err := c.GetClusterResourceState(context.Background()); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("RPC with an empty token: error %v", err)
	}
	src.set("bad\n"+testToken, nil)
	_, err = c.GetClusterResourceState(context.Background())
	if err == nil {
		t.Error("a token gRPC metadata cannot carry was sent")
	}
	assertNoToken(t, err, testToken)
	if n := len(srv.authHeaders()); n != 0 {
		t.Errorf("the GCS saw %d calls; an RPC without its token must not be sent", n)
	}
}

// TestKubernetesUnauthenticated: a GCS refusing the ServiceAccount token
// (TokenReview or SubjectAccessReview said no) maps to ErrUnauthenticated,
// and every token the connection ever sent is removed from the message of
// the RPC that carried it, although the server echoed it.
func TestKubernetesUnauthenticated(t *testing.T) {
	src := &rotatingSource{current: "tok-0-" + testToken}
	addr := startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(requireToken("another-token")))
	c := dial(t, addr, Options{Auth: AuthKubernetes, TokenSource: src})
	for i := range 5 {
		token := fmt.Sprintf("tok-%d-%s", i, testToken)
		src.set(token, nil)
		err := c.Probe(context.Background())
		if !errors.Is(err, ErrUnauthenticated) || status.Code(err) != codes.Unauthenticated {
			t.Fatalf("Probe error = %v, want ErrUnauthenticated", err)
		}
		assertNoToken(t, err, testToken, token)
		if !strings.Contains(err.Error(), redacted) {
			t.Errorf("the echoed token should read %s: %v", redacted, err)
		}
	}
}

// TestErrUnauthenticatedExplainsEveryMode: the GCS does not say which mode
// refused the call, so the error covers the shared token, Ray's default
// since 2.61 and Kubernetes authentication, with their fixes.
func TestErrUnauthenticatedExplainsEveryMode(t *testing.T) {
	for _, want := range []string{
		"RAY_AUTH_MODE=token", "spec.authOptions", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "~/.ray/auth_token",
		"2.61", "RAY_AUTH_MODE=disabled", AuthTokenSecretKey, "restart the head pod",
		"RAY_ENABLE_K8S_TOKEN_AUTH=true", "enableK8sTokenAuth", "RAY_AUTH_MODE=k8s", "ray:write", "ray-user",
		"rayclusters.ray.io", "tokenreviews", "subjectaccessreviews", "Ray client ServiceAccount", "RAY_CLUSTER_NAME",
	} {
		if !strings.Contains(ErrUnauthenticated.Error(), want) {
			t.Errorf("ErrUnauthenticated does not mention %q", want)
		}
	}
	// The scaler's Event quotes it after the address and the RPC, and
	// before the GCS's own message, within the API server's 1024
	// characters for an Event note.
	if n := len(ErrUnauthenticated.Error()); n > 800 {
		t.Errorf("ErrUnauthenticated has %d characters; keep it under 800 so that the Event keeps it whole", n)
	}
}
