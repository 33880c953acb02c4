package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/internal/livecluster"
	"github.com/raypilot/raypilot/internal/livecluster/pffake"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/gcs"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// planLiveNow is the clock of the live tests.
var planLiveNow = time.Date(2024, 1, 1, 0, 10, 0, 0, time.UTC)

// liveFixture is a live cluster for planLive: the fixture RayCluster
// (one idle worker), handed to the scaler unless edit changes it, its pods
// in the API server, and its GCS serving stateFile. It records the gRPC
// authority of every call.
type liveFixture struct {
	rc    *rayv1.RayCluster
	pods  []corev1.Pod
	gcs   *gcsfake.GCS
	objs  []client.Object
	mu    sync.Mutex
	authz []string
	// token, when set, is the one Ray token the GCS accepts: it refuses
	// every call without "authorization: Bearer <token>", as Ray's GCS
	// with RAY_AUTH_MODE=token does.
	token string
}

func newLiveFixture(t *testing.T, stateFile string, edit func(*rayv1.RayCluster, []corev1.Pod)) *liveFixture {
	t.Helper()
	rc, err := planReadRayCluster(planFixture("raycluster-one-worker.json"), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Namespace = "default"
	rc.Annotations[defaults.AnnotationAutoscaling] = defaults.AutoscalingCentral
	rc.Spec.EnableInTreeAutoscaling = ptr.To(false)
	pods, err := planReadPods(planFixture("pods.json"))
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(rc, pods)
	}
	st, err := planReadState(planFixture(stateFile))
	if err != nil {
		t.Fatal(err)
	}
	f := &liveFixture{rc: rc, pods: pods}
	f.gcs = gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		f.mu.Lock()
		f.authz = append(f.authz, md.Get(":authority")...)
		token := f.token
		f.mu.Unlock()
		if token != "" && !slices.Equal(md.Get("authorization"), []string{"Bearer " + token}) {
			return nil, errUnauthenticatedForTest
		}
		return h(ctx, req)
	}))
	f.gcs.Autoscaler.SetState(st)
	f.objs = []client.Object{rc}
	for i := range pods {
		f.objs = append(f.objs, &pods[i])
	}
	return f
}

// env reaches the fixture: the API server is a controller-runtime fake,
// port-forwards go through pffake to the fixture's GCS.
func (f *liveFixture) env(t *testing.T, extra ...client.Object) (planLiveEnv, *pffake.Server) {
	t.Helper()
	scheme, err := livecluster.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	api := pffake.Start(t, f.gcs.Addr)
	return planLiveEnv{
		reader: fake.NewClientBuilder().WithScheme(scheme).WithObjects(append(f.objs, extra...)...).Build(),
		forward: func(ctx context.Context, pod types.NamespacedName, port int) (*livecluster.Forward, error) {
			return livecluster.PortForward(ctx, api.Config, pod, port, zap.NewNop())
		},
	}, api
}

// planProxied plans the fixture's cluster as --gcs-proxy-address at its
// GCS does, with extra objects in the API server.
func (f *liveFixture) planProxied(t *testing.T, extra ...client.Object) (planOutput, error) {
	t.Helper()
	env, _ := f.env(t, extra...)
	return planLive(context.Background(), env, liveKey, liveOptions(f.gcs.Addr), planLiveNow)
}

func (f *liveFixture) authorities() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.authz)
}

var liveKey = types.NamespacedName{Namespace: "default", Name: "test-cluster"}

func liveOptions(gcsProxy string) planOptions {
	return planOptions{gcsProxy: gcsProxy, gcsTimeout: 5 * time.Second}
}

// Through --gcs-proxy-address the GCS is dialled at the proxy with the
// cluster's own GCS address as the authority, as the scaler dials it; the
// plan is scaler.Decide's on the live inputs, names the idle worker it
// drains, and the GCS is only read.
func TestPlanLiveThroughProxy(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", nil)
	out, err := f.planProxied(t)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"test-cluster-head-svc.default.svc:6379"}; !reflect.DeepEqual(slices.Compact(f.authorities()), want) {
		t.Errorf("authorities %q, want %q", f.authorities(), want)
	}
	if c := out.Cluster; c == nil || !c.ScalerActs || len(c.LeftAlone) != 0 || c.RayVersion != gcsfake.DefaultRayVersion || !strings.Contains(c.GCS, f.gcs.Addr) {
		t.Errorf("cluster %+v", out.Cluster)
	}
	const worker = "test-cluster-small-wg-worker-x7k2p"
	if len(out.Terminate) != 1 || out.Terminate[0].Pod != worker || out.Terminate[0].Cause != "IDLE" {
		t.Errorf("terminate %+v, want %s IDLE", out.Terminate, worker)
	}
	if len(out.Idle) != 1 || out.Idle[0].Pod != worker || !out.Idle[0].Drain || out.Idle[0].IdleSeconds != 31 || out.Idle[0].TimeoutSeconds != 30 {
		t.Errorf("idle %+v", out.Idle)
	}
	want := planGroup{Name: "small-wg", Replicas: 1, Min: 0, Max: 5, Desired: 0, Pods: 1, Terminate: 1}
	if len(out.Groups) != 1 || out.Groups[0] != want {
		t.Errorf("groups %+v, want %+v", out.Groups, want)
	}
	if n := len(f.gcs.Autoscaler.Reports()) + len(f.gcs.Autoscaler.Drains()) + len(f.gcs.NodeInfo.Stopped()); n != 0 {
		t.Errorf("%d reports, drains or stops sent to the GCS; want none", n)
	}

	st, err := planReadState(planFixture("state-idle-31s.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := scaler.Decide(f.rc, defaults.DefaultPolicy(), st, f.pods, planLiveNow)
	if err != nil {
		t.Fatal(err)
	}
	if d.Plan.Replicas["small-wg"] != out.Replicas["small-wg"] || len(d.Plan.Decisions) != 1 || out.Decisions[0] != d.Plan.Decisions[0].String() {
		t.Errorf("plan replicas %v, decisions %q; scaler.Decide %v, %v", out.Replicas, out.Decisions, d.Plan.Replicas, d.Plan.Decisions)
	}
}

// Without a proxy the GCS is read through a port-forward to the running
// head pod, at the GCS port of its rayStartParams.
func TestPlanLiveThroughPortForward(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", func(rc *rayv1.RayCluster, pods []corev1.Pod) {
		rc.Spec.HeadGroupSpec.RayStartParams["port"] = "6380"
	})
	env, api := f.env(t)
	out, err := planLive(context.Background(), env, liveKey, liveOptions(""), planLiveNow)
	if err != nil {
		t.Fatal(err)
	}
	fw := api.Forwards()
	if len(fw) == 0 || fw[0].Path != "/api/v1/namespaces/default/pods/test-cluster-head-8x2vq/portforward" || fw[0].Port != "6380" {
		t.Errorf("forwards %+v, want the head pod's port 6380", fw)
	}
	if out.Cluster == nil || out.Cluster.GCS != "a port-forward to port 6380 of pod test-cluster-head-8x2vq" {
		t.Errorf("cluster %+v", out.Cluster)
	}
	if out.Replicas["small-wg"] != 0 || len(out.Terminate) != 1 {
		t.Errorf("replicas %v, terminate %+v", out.Replicas, out.Terminate)
	}
}

// A cluster the scaler leaves alone still gets the decision the scaler
// would make, with the reasons it makes none now.
func TestPlanLiveLeftAlone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*rayv1.RayCluster, []corev1.Pod)
		version string
		want    string
	}{
		{name: "not annotated", edit: func(rc *rayv1.RayCluster, _ []corev1.Pod) { delete(rc.Annotations, defaults.AnnotationAutoscaling) },
			want: "it has no annotation raypilot.io/autoscaling"},
		{name: "suspended", edit: func(rc *rayv1.RayCluster, _ []corev1.Pod) { rc.Spec.Suspend = ptr.To(true) }, want: "spec.suspend"},
		{name: "in-tree sidecar", edit: func(_ *rayv1.RayCluster, pods []corev1.Pod) {
			pods[0].Spec.Containers = append(pods[0].Spec.Containers, corev1.Container{Name: "autoscaler"})
		}, want: `runs KubeRay's in-tree autoscaler container "autoscaler"`},
		{name: "unsupported Ray", version: "2.5.0", want: `Ray "2.5.0" is older than`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newLiveFixture(t, "state-idle-31s.json", tc.edit)
			if tc.version != "" {
				f.gcs.NodeInfo.SetVersion(tc.version)
			}
			out, err := f.planProxied(t)
			if err != nil {
				t.Fatal(err)
			}
			c := out.Cluster
			if c == nil || c.ScalerActs || len(c.LeftAlone) != 1 || !strings.Contains(c.LeftAlone[0], tc.want) {
				t.Fatalf("cluster %+v, want left alone: %s", c, tc.want)
			}
			if out.Replicas["small-wg"] != 0 || len(out.Terminate) != 1 {
				t.Errorf("replicas %v, terminate %+v: the decision the scaler would make", out.Replicas, out.Terminate)
			}
			text := planText(t, out)
			if !strings.Contains(text, "The scaler leaves this cluster alone now") || !strings.Contains(text, tc.want) {
				t.Errorf("text does not say why:\n%s", text)
			}
		})
	}
}

// Without a running head pod the scaler decides nothing, and the plan
// says so instead of guessing.
func TestPlanLiveNoHead(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", func(_ *rayv1.RayCluster, pods []corev1.Pod) {
		pods[0].Status.Phase = corev1.PodPending
	})
	_, err := f.planProxied(t)
	if err == nil || !strings.Contains(err.Error(), "no running head pod") {
		t.Errorf("error %v, want no running head pod", err)
	}
	if f.gcs.Autoscaler.Reads() != 0 {
		t.Errorf("the GCS was read %d times", f.gcs.Autoscaler.Reads())
	}
}

// The policy of --policy-configmap caps the workers as the scaler's
// mounted copy does: 12 pending CPUs on 2-CPU workers want 5, the cap is 2.
func TestPlanLivePolicyConfigMap(t *testing.T) {
	f := newLiveFixture(t, "state-demand-12cpu.json", func(rc *rayv1.RayCluster, pods []corev1.Pod) {
		rc.Spec.WorkerGroupSpecs[0].Replicas = ptr.To[int32](0)
	})
	policy, err := os.ReadFile(planFixture("policy-max2.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "raypilot-system", Name: "raypilot-policy"},
		Data: map[string]string{"policy.yaml": string(policy)}}
	env, _ := f.env(t, cm)
	o := liveOptions(f.gcs.Addr)
	out, err := planLive(context.Background(), env, liveKey, o, planLiveNow)
	if err != nil {
		t.Fatal(err)
	}
	if out.Replicas["small-wg"] != 5 {
		t.Fatalf("without the policy: replicas %v, want 5", out.Replicas)
	}
	o.policyConfigMap = types.NamespacedName{Namespace: "raypilot-system", Name: "raypilot-policy"}
	out, err = planLive(context.Background(), env, liveKey, o, planLiveNow)
	if err != nil {
		t.Fatal(err)
	}
	if out.Replicas["small-wg"] != 2 || out.Groups[0].Desired != 2 {
		t.Errorf("with the policy: replicas %v, groups %+v; want 2", out.Replicas, out.Groups)
	}
	if len(out.Pending.Requests) != 1 || out.Pending.Requests[0].Count != 12 {
		t.Errorf("pending %+v, want 12 requests", out.Pending)
	}
}

// An idle worker within its timeout is kept, and the plan says for how
// long it has been idle of how long.
func TestPlanLiveIdleWithinTimeout(t *testing.T) {
	f := newLiveFixture(t, "state-idle-30s.json", nil)
	out, err := f.planProxied(t)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Idle) != 1 || out.Idle[0].Drain || out.Idle[0].Why != "idle for 30s, within the timeout 30s" {
		t.Errorf("idle %+v", out.Idle)
	}
	if !strings.Contains(planText(t, out), "keep test-cluster-small-wg-worker-x7k2p (small-wg): idle for 30s, within the timeout 30s") {
		t.Errorf("text:\n%s", planText(t, out))
	}
}

func planText(t *testing.T, out planOutput) string {
	t.Helper()
	var b strings.Builder
	if err := writePlan(&b, out, planFormatText); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// --cluster does not mix with the stored inputs, nor the live flags with
// them; the cluster's name and namespace must agree and be names.
func TestPlanClusterUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--cluster", "rc", "-f", "rc.yaml"}, "--cluster reads the live cluster; --filename read stored inputs"},
		{[]string{"--cluster", "rc", "--ray-state", "s.json", "--now", "2024-01-01T00:00:00Z"}, "--ray-state, --now read stored inputs"},
		{[]string{"-f", "rc.yaml", "--ray-state", "s.json", "-n", "team"}, "--namespace: only with --cluster"},
		{[]string{"-f", "rc.yaml", "--ray-state", "s.json", "--gcs-proxy-address", "127.0.0.1:1"}, "--gcs-proxy-address: only with --cluster"},
		{[]string{"--cluster", "team/rc", "-n", "other"}, "--cluster team/rc names namespace team, -n other another"},
		{[]string{"--cluster", "a/b/c"}, `want NAME or NAMESPACE/NAME`},
		{[]string{"--cluster", "Not_A_Name"}, "is not a RayCluster name"},
		{[]string{"--cluster", "rc", "--policy", "p.yaml", "--policy-configmap", "ns/cm"}, "--policy and --policy-configmap both give the policy"},
		{[]string{"--cluster", "rc", "-o", "table"}, "want text or json or yaml"},
		{nil, "or --cluster for a live cluster"},
	} {
		code, out, errOut := runCLI(t, "", append([]string{"plan"}, tc.args...)...)
		if code != 2 || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2 and %q", tc.args, code, out, errOut, tc.want)
		}
	}
}

// Without a namespace in --cluster or -n, the kubeconfig context's
// namespace is the cluster's, as kubectl takes it.
func TestPlanClusterNamespaceFromKubeconfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kubeconfig")
	const kubeconfig = `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: u, user: {token: t}}]
contexts:
- {name: a, context: {cluster: c, user: u, namespace: team-a}}
- {name: b, context: {cluster: c, user: u, namespace: team-b}}
current-context: a
`
	if err := os.WriteFile(path, []byte(kubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		o    planOptions
		want string
	}{
		{planOptions{cluster: "rc", kube: kubeFlags{kubeconfig: path}}, "team-a/rc"},
		{planOptions{cluster: "rc", kube: kubeFlags{kubeconfig: path, context: "b"}}, "team-b/rc"},
		{planOptions{cluster: "rc", namespace: "other", kube: kubeFlags{kubeconfig: path}}, "other/rc"},
		{planOptions{cluster: "x/rc", kube: kubeFlags{kubeconfig: path}}, "x/rc"},
	} {
		key, err := planClusterKey(tc.o)
		if err != nil || key.String() != tc.want {
			t.Errorf("%+v: %v, %v; want %s", tc.o, key, err, tc.want)
		}
	}
}

// errUnauthenticatedForTest is how a GCS with Ray token authentication
// refuses a call without a token.
var errUnauthenticatedForTest = status.Error(codes.Unauthenticated, "InvalidAuthToken: Authentication token is missing or incorrect")

// A GCS that refuses the read says why, with the credential the plan
// sent: none, for a head pod whose Ray container names no token.
func TestPlanLiveUnauthenticated(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", nil)
	f.token = liveToken
	_, err := f.planProxied(t)
	if err == nil || !strings.Contains(err.Error(), "raypilot plan sent the credential its head pod's Ray container gives: none") ||
		!strings.Contains(err.Error(), gcs.ErrUnauthenticated.Error()) {
		t.Errorf("error %v", err)
	}
}

// liveToken is the Ray token of the token-authenticated live tests.
const liveToken = "ray-token-7c1f3e9a2b5d4608"

// withRayToken gives the head pod's Ray container Ray's token
// authentication as KubeRay's spec.authOptions sets it up: RAY_AUTH_MODE
// token, RAY_AUTH_TOKEN from key auth_token of Secret test-cluster.
func withRayToken(_ *rayv1.RayCluster, pods []corev1.Pod) {
	c := &pods[0].Spec.Containers[0]
	c.Env = append(c.Env, corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"}, corev1.EnvVar{Name: "RAY_AUTH_TOKEN",
		ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "test-cluster"}, Key: gcs.AuthTokenSecretKey}}})
}

// A GCS with Ray token authentication is read with the token the head
// pod's Ray container takes from its Secret, found as the scaler finds it;
// the plan says where the token came from and never shows it.
func TestPlanLiveRayToken(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", withRayToken)
	f.token = liveToken
	out, err := f.planProxied(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "test-cluster"},
		Data: map[string][]byte{gcs.AuthTokenSecretKey: []byte(liveToken + "\n")}})
	if err != nil {
		t.Fatal(err)
	}
	const from = "token from RAY_AUTH_TOKEN (Secret default/test-cluster, key auth_token)"
	if c := out.Cluster; c == nil || !strings.HasPrefix(c.Auth, "token (RAY_AUTH_MODE=token") || !strings.Contains(c.Auth, from) {
		t.Errorf("cluster %+v, want the credential %q", out.Cluster, from)
	}
	text := planText(t, out)
	if !strings.Contains(text, "Ray credential: token (") || strings.Contains(text, liveToken) {
		t.Errorf("text does not say the credential, or shows the token:\n%s", text)
	}
	if len(out.Terminate) != 1 {
		t.Errorf("terminate %+v, want the idle worker", out.Terminate)
	}
}

// A head pod that delegates Ray's token authentication to Kubernetes is
// refused before the GCS is dialled: the plan sends no Kubernetes token.
func TestPlanLiveKubernetesAuthRefused(t *testing.T) {
	f := newLiveFixture(t, "state-idle-31s.json", func(_ *rayv1.RayCluster, pods []corev1.Pod) {
		c := &pods[0].Spec.Containers[0]
		c.Env = append(c.Env, corev1.EnvVar{Name: "RAY_AUTH_MODE", Value: "token"}, corev1.EnvVar{Name: "RAY_ENABLE_K8S_TOKEN_AUTH", Value: "true"})
	})
	_, err := f.planProxied(t)
	if err == nil || !strings.Contains(err.Error(), "delegates Ray's token authentication to Kubernetes: raypilot plan sends no Kubernetes token") {
		t.Errorf("error %v", err)
	}
	if n := len(f.authorities()); n != 0 {
		t.Errorf("the GCS was called %d times", n)
	}
}
