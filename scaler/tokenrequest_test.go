package scaler

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// rayClientSA is the Ray client ServiceAccount of the tests, named as the
// chart names it.
var rayClientSA = types.NamespacedName{Namespace: "raypilot-system", Name: "raypilot-ray-client"}

// fakeTokenSuffix ends every token the fake TokenRequest API issues; no
// error or String output may contain it.
const fakeTokenSuffix = "ray-client-token-7e3d1c0b9a8f"

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeTokenAPI is the TokenRequest API of a fake API server: a
// controller-runtime fake client whose serviceaccounts/token subresource is
// intercepted. It issues token(1), token(2), ... for ServiceAccount sa only,
// valid for what was asked (less when expiresIn is set, as when the API
// server's clock is behind), and fails with err when set.
type fakeTokenAPI struct {
	t     *testing.T
	clock *testClock
	sa    types.NamespacedName

	mu        sync.Mutex
	specs     []authenticationv1.TokenRequestSpec
	err       error
	expiresIn time.Duration
	block     chan struct{} // when set, requests wait for it to close
}

func newFakeTokenAPI(t *testing.T, clock *testClock, sa types.NamespacedName) *fakeTokenAPI {
	return &fakeTokenAPI{t: t, clock: clock, sa: sa}
}

func (f *fakeTokenAPI) token(i int) string { return fmt.Sprintf("tr-%d-%s", i, fakeTokenSuffix) }

func (f *fakeTokenAPI) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.specs)
}

func (f *fakeTokenAPI) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeTokenAPI) client() client.Client {
	f.t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		f.t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: f.sa.Namespace, Name: f.sa.Name}}
	return fake.NewClientBuilder().WithScheme(scheme).WithObjects(sa).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceCreate: func(ctx context.Context, _ client.Client, sub string, obj, subObj client.Object, _ ...client.SubResourceCreateOption) error {
			f.mu.Lock()
			block := f.block
			f.mu.Unlock()
			if block != nil {
				select {
				case <-block:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			tr, ok := subObj.(*authenticationv1.TokenRequest)
			if _, isSA := obj.(*corev1.ServiceAccount); sub != "token" || !ok || !isSA {
				return fmt.Errorf("unexpected subresource create %q of %T with %T", sub, obj, subObj)
			}
			if f.err != nil {
				return f.err
			}
			if obj.GetNamespace() != f.sa.Namespace || obj.GetName() != f.sa.Name {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, obj.GetName())
			}
			f.specs = append(f.specs, *tr.Spec.DeepCopy())
			lifetime := time.Duration(*tr.Spec.ExpirationSeconds) * time.Second
			if f.expiresIn > 0 {
				lifetime = f.expiresIn
			}
			tr.Status = authenticationv1.TokenRequestStatus{Token: f.token(len(f.specs)),
				ExpirationTimestamp: metav1.NewTime(f.clock.now().Add(lifetime))}
			return nil
		},
	}).Build()
}

// recordingGCS is an in-process GCS (autoscaler and node info services)
// keeping the whole metadata of every call.
type recordingGCS struct {
	addr  string
	mu    sync.Mutex
	calls []metadata.MD
}

func startRecordingGCS(t *testing.T) *recordingGCS {
	t.Helper()
	g := &recordingGCS{}
	g.addr = gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		g.mu.Lock()
		g.calls = append(g.calls, md.Copy())
		g.mu.Unlock()
		return next(ctx, req)
	})).Addr
	return g
}

func (g *recordingGCS) reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.calls = nil
}

func (g *recordingGCS) all() []metadata.MD {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]metadata.MD(nil), g.calls...)
}

// authorizations returns the authorization values of every call.
func (g *recordingGCS) authorizations() [][]string {
	var out [][]string
	for _, md := range g.all() {
		out = append(out, md.Get(gcs.AuthMetadataKey))
	}
	return out
}

// TestServiceAccountTokensRequest: the token is asked of the TokenRequest
// API for exactly the configured ServiceAccount, for 600 s (the API
// server's minimum), with the API server's own audience (none named: Ray's
// TokenReview names none), bound to no object.
func TestServiceAccountTokensRequest(t *testing.T) {
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	src := newServiceAccountTokens(api.client(), rayClientSA, clock.now)
	got, err := src.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != api.token(1) {
		t.Errorf("Token() is not the token the API server issued")
	}
	spec := api.specs[0]
	if spec.ExpirationSeconds == nil || *spec.ExpirationSeconds != 600 || len(spec.Audiences) != 0 || spec.BoundObjectRef != nil {
		t.Errorf("TokenRequest spec %+v, want expirationSeconds 600, no audiences, no bound object", spec)
	}
	for _, s := range []string{src.String(), fmt.Sprintf("%v %+v %#v %s", src, src, src, src)} {
		if strings.Contains(s, fakeTokenSuffix) || !strings.Contains(s, rayClientSA.String()) {
			t.Errorf("%q must name the ServiceAccount and hide the token", s)
		}
	}

	other := newServiceAccountTokens(api.client(), types.NamespacedName{Namespace: "raypilot-system", Name: "absent"}, clock.now)
	_, err = other.Token(context.Background())
	if !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "scaler.rayKubernetesAuth.enabled=true") ||
		!strings.Contains(err.Error(), "--ray-client-service-account") {
		t.Errorf("missing ServiceAccount: error %v, want NotFound naming the fix", err)
	}
}

// TestServiceAccountTokensRefresh: a token is reused until 80% of its
// lifetime has passed and replaced then, before it expires; the lifetime is
// the shorter of what was granted and what the expiration timestamp leaves
// by the local clock.
func TestServiceAccountTokensRefresh(t *testing.T) {
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	src := newServiceAccountTokens(api.client(), rayClientSA, clock.now)
	ctx := context.Background()
	expect := func(want string, requests int) {
		t.Helper()
		got, err := src.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want || api.requests() != requests {
			t.Fatalf("after %d requests got the token of a different request than expected (want %d requests)", api.requests(), requests)
		}
	}
	expect(api.token(1), 1)
	clock.advance(479 * time.Second)
	expect(api.token(1), 1)
	clock.advance(time.Second) // 480 s = 80% of 600 s: refresh, 2 minutes before expiry
	expect(api.token(2), 2)
	clock.advance(479 * time.Second)
	expect(api.token(2), 2)
	clock.advance(time.Second)
	expect(api.token(3), 3)

	// The API server's clock is 200 s behind: its token expires 400 s from
	// now by ours, so it is replaced after 320 s.
	api.mu.Lock()
	api.expiresIn = 400 * time.Second
	api.mu.Unlock()
	clock.advance(480 * time.Second)
	expect(api.token(4), 4)
	clock.advance(319 * time.Second)
	expect(api.token(4), 4)
	clock.advance(time.Second)
	expect(api.token(5), 5)

	// A token that expires within the safety margin is refused.
	api.mu.Lock()
	api.expiresIn = 10 * time.Second
	api.mu.Unlock()
	clock.advance(time.Hour)
	if _, err := src.Token(ctx); err == nil || !strings.Contains(err.Error(), "too soon") || strings.Contains(err.Error(), fakeTokenSuffix) {
		t.Errorf("a token expiring in 10 s: error %v", err)
	}
}

// TestServiceAccountTokensFailure: when the refresh fails, the current
// token is sent while it is valid; a failure is not repeated against the
// API server for 5 s; once the token has expired the error says what
// raypilot's ServiceAccount needs. A failure of the caller's own context is
// not remembered.
func TestServiceAccountTokensFailure(t *testing.T) {
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	src := newServiceAccountTokens(api.client(), rayClientSA, clock.now)
	ctx := context.Background()
	if _, err := src.Token(ctx); err != nil {
		t.Fatal(err)
	}
	api.fail(apierrors.NewForbidden(schema.GroupResource{Resource: "serviceaccounts/token"}, rayClientSA.Name, errors.New("RBAC: access denied")))
	clock.advance(500 * time.Second)
	if got, err := src.Token(ctx); err != nil || got != api.token(1) {
		t.Fatalf("refresh refused while the token is valid: got the current token %t, error %v", got == api.token(1), err)
	}
	clock.advance(4 * time.Second)
	if got, err := src.Token(ctx); err != nil || got != api.token(1) {
		t.Fatalf("within the retry delay: got the current token %t, error %v", got == api.token(1), err)
	}
	clock.advance(100 * time.Second) // 604 s: expired (and past the margin)
	_, err := src.Token(ctx)
	if !apierrors.IsForbidden(err) {
		t.Fatalf("expired token, refresh refused: error %v, want Forbidden", err)
	}
	for _, want := range []string{"create on serviceaccounts/token", rayClientSA.Name, rayClientSA.Namespace, "scaler.rayKubernetesAuth.enabled=true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	n := api.requests()
	clock.advance(time.Second)
	if _, err := src.Token(ctx); err == nil {
		t.Fatal("a remembered failure returned a token")
	}
	if api.requests() != n {
		t.Errorf("a failed TokenRequest was repeated within the retry delay")
	}

	// The caller's context ends while the API server is slow: the next
	// caller asks again at once.
	api.fail(nil)
	clock.advance(time.Minute)
	api.mu.Lock()
	api.block = make(chan struct{})
	api.mu.Unlock()
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := src.Token(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("slow API server: error %v, want the caller's deadline", err)
	}
	api.mu.Lock()
	close(api.block)
	api.block = nil
	api.mu.Unlock()
	if got, err := src.Token(ctx); err != nil || !strings.HasSuffix(got, fakeTokenSuffix) {
		t.Fatalf("after the caller's own timeout: error %v", err)
	}
	if strings.Contains(fmt.Sprint(err), fakeTokenSuffix) {
		t.Error("an error reveals a token")
	}
}

// TestServiceAccountTokensShared: concurrent callers (every cluster's
// connection) share one TokenRequest, and a slow refresh holds up no caller
// while the current token is valid.
func TestServiceAccountTokensShared(t *testing.T) {
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	src := newServiceAccountTokens(api.client(), rayClientSA, clock.now)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := src.Token(context.Background()); err != nil || got != api.token(1) {
				t.Errorf("concurrent Token: error %v", err)
			}
		}()
	}
	wg.Wait()
	if n := api.requests(); n != 1 {
		t.Errorf("%d TokenRequests for 32 concurrent callers, want 1", n)
	}

	// A refresh in flight on a slow API server: the others get the current
	// token at once, while it is valid.
	api.mu.Lock()
	api.block = make(chan struct{})
	api.mu.Unlock()
	clock.advance(500 * time.Second)
	refreshed := make(chan error, 1)
	go func() {
		got, err := src.Token(context.Background())
		if err == nil && got != api.token(2) {
			err = errors.New("the refresh did not return the new token")
		}
		refreshed <- err
	}()
	for !inflight(src) {
		time.Sleep(time.Millisecond)
	}
	if got, err := src.Token(context.Background()); err != nil || got != api.token(1) {
		t.Errorf("during a refresh: got the current token %t, error %v", got == api.token(1), err)
	}
	// Once the current token has expired, callers wait for the refresh,
	// as long as their context lets them.
	clock.advance(100 * time.Second)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := src.Token(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a refresh past the caller's deadline: error %v", err)
	}
	waited := make(chan string, 1)
	go func() {
		got, _ := src.Token(context.Background())
		waited <- got
	}()
	api.mu.Lock()
	close(api.block)
	api.block = nil
	api.mu.Unlock()
	if err := <-refreshed; err != nil {
		t.Error(err)
	}
	if got := <-waited; got != api.token(2) {
		t.Errorf("a caller waiting for the refresh did not get its token")
	}
	if n := api.requests(); n != 2 {
		t.Errorf("%d TokenRequests, want 2", n)
	}
}

// inflight says whether a TokenRequest of src is in flight.
func inflight(src *serviceAccountTokens) bool {
	src.mu.Lock()
	defer src.mu.Unlock()
	return src.inflight != nil
}

// TestScalerOwnTokenNeverSent drives connections.get and two RPCs for a
// head in every mode, with Kubernetes mode on and off. The head pod mounts
// the kubelet's projected ServiceAccount token, and RAY_AUTH_TOKEN_PATH of
// one head names a file holding the scaler's own ServiceAccount token
// (distinctive, written to a temporary file as the kubelet writes the
// scaler's pod's own). Every authorization value the GCS ever receives must
// be exactly one the test issued: the shared token from the Secret, or a
// TokenRequest token of the Ray client ServiceAccount; no other metadata
// may carry a token; the own token appears nowhere.
func TestScalerOwnTokenNeverSent(t *testing.T) {
	const ownToken = "eyJhbGciOiJSUzI1NiJ9.scaler-own-serviceaccount-token-31415926"
	ownFile := filepath.Join(t.TempDir(), "serviceaccount", "token")
	if err := os.MkdirAll(filepath.Dir(ownFile), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ownFile, []byte(ownToken), 0o600); err != nil {
		t.Fatal(err)
	}
	kubeletToken := func(p *corev1.Pod) *corev1.Pod {
		return withMounts(p, []corev1.VolumeMount{{Name: "kube-api-access", MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", ReadOnly: true}},
			corev1.Volume{Name: "kube-api-access", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}})
	}
	kubeRayToken := secretEnv(envRayAuthToken, "rc", gcs.AuthTokenSecretKey, false)
	k8s := []corev1.EnvVar{plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")}
	heads := map[string]*corev1.Pod{
		"disabled":                    head(img252),
		"disabled explicitly on 2.61": head(img261, plainEnv(envRayAuthMode, "disabled")),
		"token":                       head(img252, plainEnv(envRayAuthMode, "token"), kubeRayToken),
		"default token on 2.61":       head(img261, kubeRayToken),
		"if available, with token":    head(img259, kubeRayToken),
		"if available, without":       head(img259),
		"token path to the own token": head(img252, plainEnv(envRayAuthMode, "token"), plainEnv(envRayAuthPath, ownFile)),
		"kubernetes":                  head("rayproject/ray:2.57.0", k8s...),
		"kubernetes, legacy k8s":      head(img252, plainEnv(envRayAuthMode, "k8s")),
		"kubernetes with a Ray token": head(img261, append(k8s, kubeRayToken)...),
		"kubernetes, own token path":  head(img261, append(k8s, plainEnv(envRayAuthPath, ownFile))...),
	}
	g := startRecordingGCS(t)
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	issued := map[string]bool{"Bearer " + tokSecret: true}
	for i := 1; i <= 20; i++ {
		issued["Bearer "+api.token(i)] = true
	}
	kubeRaySecret := testSecret("rc", map[string]string{gcs.AuthTokenSecretKey: tokSecret})
	for _, on := range []bool{true, false} {
		cs := &connections{clients: map[types.NamespacedName]*conn{}, proxy: g.addr,
			options: gcs.Options{Timeout: 5 * time.Second}, secrets: fakeReader(t, kubeRaySecret)}
		if on {
			cs.rayClient = newServiceAccountTokens(api.client(), rayClientSA, clock.now)
		}
		t.Cleanup(cs.closeAll)
		for name, p := range heads {
			rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: fmt.Sprintf("rc-%t-%d", on, len(cs.clients))}}
			c, err := cs.get(context.Background(), rc, kubeletToken(p.DeepCopy()))
			if err != nil {
				if strings.Contains(err.Error(), ownToken) {
					t.Errorf("%s (Kubernetes mode %t): the error reveals the scaler's own token", name, on)
				}
				continue
			}
			for range 2 {
				if _, err := c.GetClusterResourceState(context.Background()); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				clock.advance(500 * time.Second)
			}
		}
	}
	calls := g.all()
	if len(calls) < 10 {
		t.Fatalf("the GCS saw only %d calls", len(calls))
	}
	sawRayClient := false
	for i, md := range calls {
		for _, v := range md.Get(gcs.AuthMetadataKey) {
			if !issued[v] {
				t.Errorf("call %d carries a token the test never issued (the scaler's own: %t)", i, strings.Contains(v, ownToken))
			}
			sawRayClient = sawRayClient || strings.HasSuffix(v, fakeTokenSuffix)
		}
		for k, vs := range md {
			for _, v := range vs {
				if strings.Contains(v, ownToken) {
					t.Errorf("call %d: metadata %q carries the scaler's own ServiceAccount token", i, k)
				}
				if k != gcs.AuthMetadataKey && (strings.Contains(v, fakeTokenSuffix) || strings.Contains(v, tokSecret)) {
					t.Errorf("call %d: metadata %q carries a token", i, k)
				}
			}
		}
	}
	if !sawRayClient {
		t.Error("no call carried a Ray client token: the Kubernetes mode rows did not run")
	}
}

// TestRayClientTokenSent: with Kubernetes mode on, every RPC to a cluster
// in Kubernetes mode carries exactly "Bearer <token>" with the TokenRequest
// token of the Ray client ServiceAccount, a new one after 80% of the first
// one's lifetime.
func TestRayClientTokenSent(t *testing.T) {
	g := startRecordingGCS(t)
	clock := newTestClock()
	api := newFakeTokenAPI(t, clock, rayClientSA)
	cs := &connections{clients: map[types.NamespacedName]*conn{}, proxy: g.addr,
		options: gcs.Options{Timeout: 5 * time.Second}, secrets: fakeReader(t),
		rayClient: newServiceAccountTokens(api.client(), rayClientSA, clock.now)}
	t.Cleanup(cs.closeAll)
	rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "rc"}}
	c, err := cs.get(context.Background(), rc, head("rayproject/ray:2.57.0", plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Duration{0, 479 * time.Second, time.Second, 0} {
		clock.advance(d)
		if _, err := c.GetClusterResourceState(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{api.token(1), api.token(1), api.token(2), api.token(2)}
	got := g.authorizations()
	if len(got) != len(want) {
		t.Fatalf("the GCS saw %d calls, want %d", len(got), len(want))
	}
	for i, h := range got {
		if len(h) != 1 || h[0] != "Bearer "+want[i] {
			t.Errorf("call %d: authorization has %d values, not exactly the expected TokenRequest token", i, len(h))
		}
	}
	if n := api.requests(); n != 2 {
		t.Errorf("%d TokenRequests, want 2", n)
	}
}

// TestKubernetesModeOffSendsNothing: a cluster in Kubernetes mode while
// Kubernetes mode is off is refused before anything is dialled, so no RPC
// (and so no token) reaches its GCS, and the refusal is the GCSUnreachable
// Warning Event, naming the chart value that fixes it.
func TestKubernetesModeOffSendsNothing(t *testing.T) {
	g := startRecordingGCS(t)
	cs := &connections{clients: map[types.NamespacedName]*conn{}, proxy: g.addr,
		options: gcs.Options{Timeout: 5 * time.Second}, secrets: fakeReader(t)}
	t.Cleanup(cs.closeAll)
	rc := &rayv1.RayCluster{ObjectMeta: metav1.ObjectMeta{Namespace: testNS, Name: "rc"}}
	_, err := cs.get(context.Background(), rc, head("rayproject/ray:2.57.0", plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")))
	if !errors.Is(err, ErrKubernetesAuthOff) {
		t.Fatalf("get: error %v, want ErrKubernetesAuthOff", err)
	}
	if n := len(g.all()); n != 0 || len(cs.clients) != 0 {
		t.Errorf("the GCS saw %d calls; a refused cluster must not be dialled", n)
	}

	// Through a round: the GCSUnreachable Event.
	p := headPod("rc-head", false)
	p.Spec.Containers[0].Env = []corev1.EnvVar{plainEnv(envRayAuthMode, "token"), plainEnv(envRayK8sTokenAuth, "true")}
	h := newInTreeHarness(t, inTreeTestCluster(false), p)
	h.rounds(2)
	if n := h.gcs.Reads(); n != 0 {
		t.Errorf("the scaler read the GCS %d times", n)
	}
	events := h.drainEvents()
	if len(events) != 1 || !strings.HasPrefix(events[0], "Warning "+EventGCSUnreachable+" ") {
		t.Fatalf("events %q, want one Warning %s", events, EventGCSUnreachable)
	}
	for _, want := range []string{"holding scaling", "RAY_ENABLE_K8S_TOKEN_AUTH=true", "scaler.rayKubernetesAuth.enabled=true", "ml/rc-head"} {
		if !strings.Contains(events[0], want) {
			t.Errorf("event %q does not contain %q", events[0], want)
		}
	}
	// Whole within the API server's 1024 characters for a note, with room
	// for long namespace and pod names.
	if n := len(events[0]); n > 850 {
		t.Errorf("the Event has %d characters; the API server keeps 1024 of a note", n)
	}
}

// TestNoCodeReadsTheScalersOwnToken guards the design: no code of the
// scaler (scaler/ and its packages, tests aside) refers to the kubelet's
// ServiceAccount token path or to the bearer token of its own Kubernetes
// client configuration, the two ways the scaler's own token could reach a
// GCS.
func TestNoCodeReadsTheScalersOwnToken(t *testing.T) {
	forbidden := []string{"/var/run/secrets/kubernetes.io/serviceaccount", ".BearerToken", "InClusterConfig"}
	checked := 0
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		checked++
		for _, f := range forbidden {
			if strings.Contains(string(src), f) {
				t.Errorf("%s refers to %s: the scaler must never send its own ServiceAccount token", path, f)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Fatalf("only %d files checked", checked)
	}
}
