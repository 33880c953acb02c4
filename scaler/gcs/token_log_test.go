package gcs

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/grpclog"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// grpcLog captures everything gRPC logs during the package's tests, at the
// highest verbosity, so TestTokenNeverLogged can check that gRPC itself
// never prints the token (grpclog's logger must be set before any gRPC use,
// hence TestMain).
var grpcLog syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	grpclog.SetLoggerV2(grpclog.NewLoggerV2WithVerbosity(&grpcLog, &grpcLog, &grpcLog, 99))
	os.Exit(m.Run())
}

// echoToken is a GCS that rejects every call with the authorization
// metadata it received in the message, as a careless server might.
func echoToken() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, _ any, _ *grpc.UnaryServerInfo, _ grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return nil, status.Errorf(codes.PermissionDenied, "denied for %v", md.Get(AuthMetadataKey))
	}
}

// TestTokenNeverLogged drives the client through success and every failure
// the scaler meets (a server echoing the token back, unauthenticated,
// unimplemented, a hanging GCS, an unreachable address) with Ray's token
// configured, checks the token reaches the server as "authorization:
// Bearer <token>" on every call, and logs each error, the client and its
// options the way the scaler does (zap.Error, zap.Stringer, zap.Any) into a
// zap observer core. No logged message or field, nor anything gRPC logged at
// verbosity 99, may contain the token.
func TestTokenNeverLogged(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	opts := Options{Token: testToken, Timeout: 300 * time.Millisecond}
	ctx := context.Background()
	logErr := func(call string, err error) {
		if err == nil {
			t.Errorf("%s: no error", call)
			return
		}
		// scaler/controller.go gcsFailure logs exactly this.
		log.Warn("GCS unreachable; holding", zap.String("call", call), zap.Error(err))
	}

	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), opts)
	log.Info("connected", zap.Stringer("gcs", c), zap.Any("client", c), zap.Any("options", opts), zap.Stringer("optionsString", opts))
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.DrainNode(ctx, testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle", time.Time{}); err != nil {
		t.Fatal(err)
	}
	for i, h := range srv.authHeaders() {
		if len(h) != 1 || h[0] != "Bearer "+testToken {
			t.Errorf("call %d: authorization metadata has %d values, want exactly \"Bearer <token>\"", i, len(h))
		}
	}

	echo := dial(t, startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(echoToken())), opts)
	_, err := echo.GetClusterResourceState(ctx)
	logErr("GetClusterResourceState", err)
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("echoing server: %v", err)
	}

	unauth := dial(t, startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(requireToken("another-token"))), opts)
	logErr("Probe", unauth.Probe(ctx))

	old := dial(t, startServer(t, nil), opts)
	logErr("Probe", old.Probe(ctx))

	hung := dial(t, startServer(t, &fakeGCS{hang: true}), opts)
	_, err = hung.GetClusterResourceState(ctx)
	logErr("GetClusterResourceState", err)

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := lis.Addr().String()
	_ = lis.Close()
	_, err = Dial(ctx, closed, opts)
	logErr("Dial", err)

	if logs.Len() < 6 {
		t.Fatalf("only %d log entries observed", logs.Len())
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		if line := buf.String(); strings.Contains(line, testToken) {
			t.Errorf("a log line reveals the token: %s", line)
		}
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && strings.Contains(s, testToken) {
				t.Errorf("log field %s reveals the token", k)
			}
		}
	}
	if strings.Contains(grpcLog.String(), testToken) {
		t.Errorf("gRPC's own log reveals the token")
	}
	if !strings.Contains(grpcLog.String(), "[core]") {
		t.Errorf("gRPC logged nothing at verbosity 99: the capture does not work")
	}
}

// TestServiceAccountTokenNeverLogged is TestTokenNeverLogged for
// AuthKubernetes: the ServiceAccount tokens a TokenSource gives, rotated
// during the test, appear in no logged error, client or options, nor in
// gRPC's own log, while every call carries the current one.
func TestServiceAccountTokenNeverLogged(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	oldToken, newToken := "sa-old-"+testToken, "sa-new-"+testToken
	src := &rotatingSource{name: "TokenRequest for ServiceAccount ns/ray-client", current: oldToken}
	opts := Options{Auth: AuthKubernetes, TokenSource: src, Timeout: 300 * time.Millisecond}
	ctx := context.Background()
	logErr := func(call string, err error) {
		if err == nil {
			t.Errorf("%s: no error", call)
			return
		}
		log.Warn("GCS unreachable; holding", zap.String("call", call), zap.Error(err))
	}

	srv := &fakeGCS{}
	c := dial(t, startServer(t, srv), opts)
	log.Info("connected", zap.Stringer("gcs", c), zap.Any("client", c), zap.Any("options", opts), zap.Stringer("optionsString", opts))
	if _, err := c.GetClusterResourceState(ctx); err != nil {
		t.Fatal(err)
	}
	src.set(newToken, nil)
	if _, _, err := c.DrainNode(ctx, testNodeID(1), rpcpb.DrainNodeReason_DRAIN_NODE_REASON_IDLE_TERMINATION, "idle", time.Time{}); err != nil {
		t.Fatal(err)
	}
	if h := srv.authHeaders(); len(h) != 2 || h[0][0] != "Bearer "+oldToken || h[1][0] != "Bearer "+newToken {
		t.Errorf("calls did not carry the current ServiceAccount token")
	}

	echo := dial(t, startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(echoToken())), opts)
	_, err := echo.GetClusterResourceState(ctx)
	logErr("GetClusterResourceState", err)
	unauth := dial(t, startServer(t, &fakeGCS{}, grpc.UnaryInterceptor(requireToken("another-token"))), opts)
	logErr("Probe", unauth.Probe(ctx))
	hung := dial(t, startServer(t, &fakeGCS{hang: true}), opts)
	_, err = hung.GetClusterResourceState(ctx)
	logErr("GetClusterResourceState", err)
	_, err = Dial(ctx, startServer(t, &fakeGCS{}), Options{Auth: AuthKubernetes, TokenSource: &rotatingSource{err: errors.New("forbidden")}})
	logErr("Dial", err)

	if logs.Len() < 5 {
		t.Fatalf("only %d log entries observed", logs.Len())
	}
	enc := zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig())
	for _, e := range logs.All() {
		buf, err := enc.EncodeEntry(e.Entry, e.Context)
		if err != nil {
			t.Fatal(err)
		}
		if line := buf.String(); strings.Contains(line, testToken) {
			t.Errorf("a log line reveals the ServiceAccount token: %s", line)
		}
	}
	if strings.Contains(grpcLog.String(), testToken) {
		t.Errorf("gRPC's own log reveals the ServiceAccount token")
	}
}
