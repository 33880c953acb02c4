package gcs

import (
	"context"
	"errors"
	"path/filepath"
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
	file := filepath.Join(t.TempDir(), "token")
	writeTokenFile(t, file, saToken+"\n")
	tests := []struct {
		name string
		opts Options
		want []string // the authorization values of one call
	}{
		{name: "none", opts: Options{}, want: nil},
		{name: "token", opts: Options{Auth: AuthToken, Token: testToken}, want: []string{"Bearer " + testToken}},
		{name: "token without Auth", opts: Options{Token: testToken}, want: []string{"Bearer " + testToken}},
		{name: "kubernetes", opts: Options{Auth: AuthKubernetes, KubernetesTokenFile: file}, want: []string{"Bearer " + saToken}},
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

// TestKubernetesTokenRotation: the kubelet replaces the projected token; the
// next RPC after the refresh period carries the new one, on the same
// connection.
func TestKubernetesTokenRotation(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	writeTokenFile(t, file, "old-"+testToken)
	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), Options{Auth: AuthKubernetes, KubernetesTokenFile: file, KubernetesTokenRefresh: time.Nanosecond})
	ctx := context.Background()
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	writeTokenFile(t, file, "new-"+testToken+"\n")
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	h := srv.authHeaders()
	if len(h) != 2 || len(h[0]) != 1 || len(h[1]) != 1 {
		t.Fatalf("authorization metadata %d calls, want 2 with one value each", len(h))
	}
	if h[0][0] != "Bearer old-"+testToken || h[1][0] != "Bearer new-"+testToken {
		t.Errorf("the rotated token was not sent after the refresh period")
	}
	if !strings.Contains(c.String(), file) || strings.Contains(c.String(), testToken) {
		t.Errorf("Client.String() = %q: must name the token file, never a token", c.String())
	}
}

// TestKubernetesTokenMissingFailsDial: a missing token file is reported at
// Dial, naming the file.
func TestKubernetesTokenMissingFailsDial(t *testing.T) {
	file := filepath.Join(t.TempDir(), "absent")
	_, err := Dial(context.Background(), startServer(t, &fakeGCS{}), Options{Auth: AuthKubernetes, KubernetesTokenFile: file})
	if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "ServiceAccount token") {
		t.Fatalf("Dial error = %v, want one naming %s", err, file)
	}
}

// TestKubernetesUnauthenticated: a GCS refusing the ServiceAccount token
// (TokenReview or SubjectAccessReview said no) maps to ErrUnauthenticated,
// with every token the connection sent removed from the message, although
// the server echoed them.
func TestKubernetesUnauthenticated(t *testing.T) {
	file := filepath.Join(t.TempDir(), "token")
	writeTokenFile(t, file, "old-"+testToken)
	addr := startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(requireToken("another-token")))
	c := dial(t, addr, Options{Auth: AuthKubernetes, KubernetesTokenFile: file, KubernetesTokenRefresh: time.Nanosecond})
	err := c.Probe(context.Background())
	writeTokenFile(t, file, "new-"+testToken)
	err2 := c.Probe(context.Background())
	for _, err := range []error{err, err2} {
		if !errors.Is(err, ErrUnauthenticated) || status.Code(err) != codes.Unauthenticated {
			t.Fatalf("Probe error = %v, want ErrUnauthenticated", err)
		}
		assertNoToken(t, err, testToken)
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
		"rayclusters.ray.io", "tokenreviews", "subjectaccessreviews",
	} {
		if !strings.Contains(ErrUnauthenticated.Error(), want) {
			t.Errorf("ErrUnauthenticated does not mention %q", want)
		}
	}
}
