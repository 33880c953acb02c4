package integration

// High availability with real processes: two
// `raypilot webhook` replicas behind the chart's Service and webhook
// configurations, routed by a real kube-apiserver, one stopped the way
// Kubernetes stops a pod under a steady stream of creates; two `raypilot
// scaler` replicas with leader election, the leader stopped (SIGTERM, then
// SIGKILL) while demand keeps coming.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/e2e/raysim"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/manifest"
)

var computeTemplateGVR = schema.GroupVersionResource{Group: "raypilot.io", Version: "v1alpha1", Resource: "computetemplates"}

// Figures of the webhook test. The chart's preStop sleep is 5 s
// (webhook.preStopSleepSeconds); --shutdown-delay plays it here.
const (
	haShutdownDelay = 5 * time.Second
	haStreamRate    = 20 // creates per second
	haStreamLength  = 15 * time.Second
	haStopAfter     = 5 * time.Second // into the stream
	// haEndpointLag is how long after SIGTERM the endpoint turns not ready:
	// in a cluster the kubelet and the EndpointSlice controller both learn
	// of the terminating pod from watches, and the API server learns of
	// the slice from another, so requests keep arriving for a while; the
	// shutdown delay must cover it.
	haEndpointLag    = time.Second
	haIterations     = 3
	haReleaseName    = "raypilot"
	haReleaseNS      = "raypilot-system"
	haAppNS          = "ha-webhook"
	haSliceManagedBy = "ha-test.raypilot.io"
	// haHandoverBound is the acceptance bound: scaling continues within 20 s
	// of the leader stopping.
	haHandoverBound = 20 * time.Second
	// The scaler's lease timings in the test. After a crash the successor
	// waits up to the lease duration plus two retry periods (a standby sees
	// the last renewal up to one retry late, and retries once more): with
	// the defaults (15 s, 2 s) that measured 15.7-19.7 s to the scale-up on
	// this machine, too close to the bound; these keep it near 12 s.
	haLeaseDuration = 10 * time.Second
	haRenewDeadline = 7 * time.Second
	haRetryPeriod   = time.Second
	// haScalerInterval is the scalers' --interval: a standby runs a round
	// (stopped at the leadership check) that often too.
	haScalerInterval = time.Second
	// haStandbyRounds is how many rounds a standby must have run before a
	// check that it did nothing counts.
	haStandbyRounds = 2
)

// haProcess is one raypilot process started by the HA tests: its output in
// a log file, signals under the test's control, its exit observed.
type haProcess struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // cmd.Wait's, once done is closed
}

func startHAProcess(t *testing.T, name, binary string, args ...string) *haProcess {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Start()
	f.Close() // the child holds its own descriptor
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &haProcess{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("--- end of %s's log:\n%s", p.name, p.logTail(3000))
		}
	})
	return p
}

func (p *haProcess) signal(sig syscall.Signal) { _ = p.cmd.Process.Signal(sig) }

// wait returns the exit error once the process exited, or an error when it
// has not within timeout.
func (p *haProcess) wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %s", p.name, timeout)
	}
}

func (p *haProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process gracefully (a scaler then releases its lease, so a
// later run does not wait for it to expire), killing it after 30 s.
func (p *haProcess) stop() {
	if p.exited() {
		return
	}
	p.signal(syscall.SIGTERM)
	if p.wait(30*time.Second) != nil && !p.exited() {
		p.signal(syscall.SIGKILL)
		<-p.done
	}
}

func (p *haProcess) logText() string {
	data, _ := os.ReadFile(p.logPath)
	return string(data)
}

func (p *haProcess) logTail(n int) string {
	s := p.logText()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return s
}

// ready polls the process's /readyz until it answers 200; the error of a
// process that exited first or was not ready in time quotes its log.
func (p *haProcess) ready(healthAddr string) error {
	exited := make(chan error, 1)
	go func() {
		<-p.done
		exited <- p.err
	}()
	if err := testcp.WaitReady(context.Background(), "http://"+healthAddr+"/readyz", 90*time.Second, exited); err != nil {
		return fmt.Errorf("%s: %w; log:\n%s", p.name, err, p.logTail(3000))
	}
	return nil
}

// buildBinary builds ./cmd/raypilot once per test.
func buildBinary(t *testing.T) string {
	t.Helper()
	root, err := testcp.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "raypilot")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := testcp.BuildRaypilot(ctx, root, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// hostIPv4 is this machine's first non-loopback IPv4 address: EndpointSlice
// validation refuses loopback addresses.
func hostIPv4(t *testing.T) string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skipf("webhook HA needs a non-loopback IPv4 address for the EndpointSlices: %v", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	t.Skip("webhook HA needs a non-loopback IPv4 address for the EndpointSlices (they refuse loopback); this machine has none")
	return ""
}

// freeTCPPorts returns n ports free at the time; a process given them may
// still lose one to another process before it binds it, so it is started
// through testcp.WithFreePorts (see webhookReplica.ready, startScaler).
func freeTCPPorts(t *testing.T, n int) []int {
	t.Helper()
	ports, err := testcp.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return ports
}

func localAddr(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// startRoutingControlPlane starts a control plane of this test's own whose
// kube-apiserver routes webhook `service` client configs the way a cluster
// without kube-proxy on the control plane does
// (--enable-aggregator-routing): to a random ready endpoint of the
// Service's EndpointSlices, chosen per request.
func startRoutingControlPlane(t *testing.T) (*rest.Config, string) {
	t.Helper()
	kuberay, err := testcp.KubeRayCRDDir()
	if err != nil {
		t.Fatal(err)
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory:    os.Getenv("RAYPILOT_TOOLS_BIN"),
		CRDDirectoryPaths:        []string{kuberay, filepath.Join(repoRoot, "charts", "raypilot", "crds")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		CRDInstallOptions:        envtest.CRDInstallOptions{MaxTime: 90 * time.Second},
	}
	e.ControlPlane.GetAPIServer().Configure().Set("enable-aggregator-routing", "true")
	if _, err := e.Start(); err != nil {
		_ = e.Stop()
		t.Fatalf("start control plane: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop() })
	user, err := e.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := user.Config()
	cfg.QPS, cfg.Burst = 500, 1000 // the stream must never wait on the client
	return cfg, path
}

// tool runs a binary of $RAYPILOT_TOOLS_BIN.
func tool(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(os.Getenv("RAYPILOT_TOOLS_BIN"), name), args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

// webhookReplica is one `raypilot webhook` process and its endpoint.
type webhookReplica struct {
	name                string
	port                int // HTTPS on the host IP, the EndpointSlice's port
	health, metrics     string
	proc                *haProcess
	generation          int
	binary, kubeconfig  string
	ip, service, config string
}

// start runs the replica's process and waits until it is ready.
func (r *webhookReplica) start(t *testing.T) {
	t.Helper()
	r.launch(t)
	r.ready(t)
}

// setPorts gives the replica its HTTPS, health and metrics ports.
func (r *webhookReplica) setPorts(ports []int) {
	r.port, r.health, r.metrics = ports[0], localAddr(ports[1]), localAddr(ports[2])
}

// ready waits until the launched process is ready. One that could not bind
// a port (another process took it after it was chosen) runs again on new
// ports.
func (r *webhookReplica) ready(t *testing.T) {
	t.Helper()
	err := r.proc.ready(r.health)
	if testcp.IsAddrInUse(err) {
		t.Logf("%s: a port was taken; starting it again on new ports", r.proc.name)
		err = testcp.WithFreePorts(3, func(ports []int) error {
			r.setPorts(ports)
			r.launch(t)
			return r.proc.ready(r.health)
		})
	}
	if err != nil {
		t.Fatal(err)
	}
}

// launch runs the replica's process.
func (r *webhookReplica) launch(t *testing.T) {
	t.Helper()
	r.generation++
	r.proc = startHAProcess(t, fmt.Sprintf("webhook-%s-%d", r.name, r.generation), r.binary, "webhook",
		"--kubeconfig", r.kubeconfig,
		"--host", r.ip, "--port", strconv.Itoa(r.port),
		"--metrics-bind-address", r.metrics, "--health-probe-bind-address", r.health,
		"--shutdown-delay", haShutdownDelay.String(), "--graceful-shutdown-timeout", "15s",
		// As the chart runs it (templates/webhook-deployment.yaml).
		"--cert-mode=self-managed", "--cert-secret-name", "raypilot-webhook-tls", "--cert-secret-namespace", haReleaseNS,
		"--webhook-service-name", r.service,
		"--mutating-webhook-configuration", r.config, "--validating-webhook-configuration", r.config,
		"--leader-elect")
}

// scrape reads the metrics a process serves on addr; a process that does
// not answer (stalled) fails the read instead of hanging the test.
func scrape(addr string) (*http.Response, error) {
	return (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
}

// reviews is the number of admission reviews the replica answered, per
// webhook path, from its controller_runtime_webhook_requests_total.
func (r *webhookReplica) reviews() (map[string]int, error) {
	resp, err := scrape(r.metrics)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "controller_runtime_webhook_requests_total{") {
			continue
		}
		labels, value, _ := strings.Cut(line[len("controller_runtime_webhook_requests_total{"):], "} ")
		path := ""
		for _, kv := range strings.Split(labels, ",") {
			if v, ok := strings.CutPrefix(kv, `webhook="`); ok {
				path = strings.TrimSuffix(v, `"`)
			}
		}
		n, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		out[path] += int(n)
	}
	return out, sc.Err()
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// endpointState is the state of a webhook pod as its endpoint's
// conditions tell it.
type endpointState int

const (
	endpointStarting    endpointState = iota // readiness probe not passed yet
	endpointReady                            // serving and ready
	endpointTerminating                      // deleted: serving, not ready
)

// endpointSlice is what the EndpointSlice controller keeps for one webhook
// pod: its address, the Service port's name (the API server picks slices
// by it), the pod's port, and the conditions of state.
func endpointSlice(svc *corev1.Service, portName string, r *webhookReplica, state endpointState) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: svc.Name + "-" + r.name, Namespace: svc.Namespace, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc.Name,
			discoveryv1.LabelManagedBy:   haSliceManagedBy,
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses: []string{r.ip},
			Conditions: discoveryv1.EndpointConditions{
				Ready:       ptr.To(state == endpointReady),
				Serving:     ptr.To(state != endpointStarting),
				Terminating: ptr.To(state == endpointTerminating),
			},
		}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To(portName), Port: ptr.To(int32(r.port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
}

func setSlice(ctx context.Context, cs kubernetes.Interface, s *discoveryv1.EndpointSlice) error {
	cur, err := cs.DiscoveryV1().EndpointSlices(s.Namespace).Get(ctx, s.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cs.DiscoveryV1().EndpointSlices(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	s.ResourceVersion = cur.ResourceVersion
	_, err = cs.DiscoveryV1().EndpointSlices(s.Namespace).Update(ctx, s, metav1.UpdateOptions{})
	return err
}

// admissionStream creates seed RayClusters at a steady rate and checks each
// is stored expanded.
type admissionStream struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
	names      []string
}

func (s *admissionStream) fail(err error) {
	s.failed.Add(1)
	s.mu.Lock()
	if len(s.errs) < 5 {
		s.errs = append(s.errs, err.Error())
	}
	s.mu.Unlock()
}

// run creates rate clusters per second for length, named prefix-<i>;
// hook, if set, runs once after stopAfter, concurrently with the stream.
func (s *admissionStream) run(dc dynamic.Interface, seed *unstructured.Unstructured, prefix string, rate int, length, stopAfter time.Duration, hook func()) {
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	start := time.Now()
	if hook != nil {
		wg.Go(func() {
			time.Sleep(stopAfter)
			hook()
		})
	}
	for i := 0; time.Since(start) < length; i++ {
		<-tick.C
		sem <- struct{}{}
		name := fmt.Sprintf("%s-%03d", prefix, i)
		wg.Go(func() {
			defer func() { <-sem }()
			obj := seed.DeepCopy()
			obj.SetName(name)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			got, err := dc.Resource(rayClusterGVR).Namespace(haAppNS).Create(ctx, obj, metav1.CreateOptions{})
			if err == nil {
				err = storedExpanded(got)
			}
			if err != nil {
				s.fail(fmt.Errorf("%s: %w", name, err))
				return
			}
			s.ok.Add(1)
			s.mu.Lock()
			s.names = append(s.names, name)
			s.mu.Unlock()
		})
	}
	wg.Wait()
}

// storedExpanded checks that the webhook expanded the cluster: the head pod
// template has the Ray container and the expansion annotation.
func storedExpanded(u *unstructured.Unstructured) error {
	tmpl, _, _ := unstructured.NestedMap(u.Object, "spec", "headGroupSpec", "template")
	containers, _, _ := unstructured.NestedSlice(tmpl, "spec", "containers")
	ann, _, _ := unstructured.NestedStringMap(tmpl, "metadata", "annotations")
	if len(containers) == 0 || ann[defaults.AnnotationExpanded] == "" {
		return errors.New("stored unexpanded")
	}
	if c, _ := containers[0].(map[string]any); c["name"] != "ray-head" {
		return fmt.Errorf("stored with head container %v", c["name"])
	}
	return nil
}

func seedObjects(t *testing.T) (template, cluster *unstructured.Unstructured) {
	t.Helper()
	read := func(name string) *unstructured.Unstructured {
		data, err := os.ReadFile(filepath.Join(repoRoot, "examples", name))
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &u.Object); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		u.SetNamespace(haAppNS)
		return u
	}
	return read("compute-template.yaml"), read("raycluster.yaml")
}

// With two webhook replicas behind the chart's Service, stopping one the
// way Kubernetes stops a pod (its endpoint turns not ready as SIGTERM
// arrives; the process keeps serving through the preStop window, then
// drains) under a steady stream of creates loses no admission. The real
// kube-apiserver routes each review to a random ready endpoint of the
// Service; both replicas must have served reviews before the stop.
func TestWebhookHAStopOneReplicaUnderCreates(t *testing.T) {
	ip := hostIPv4(t)
	binary := buildBinary(t)
	cfg, kubeconfigPath := startRoutingControlPlane(t)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, cs, haReleaseNS)
	ensureNamespace(t, cs, haAppNS)

	// The chart's own Service and webhook configurations, rendered by Helm
	// and applied as `helm install` would.
	rendered, err := tool("", "helm", "template", haReleaseName, filepath.Join(repoRoot, "charts", "raypilot"),
		"--namespace", haReleaseNS,
		"--show-only", "templates/webhook-service.yaml", "--show-only", "templates/webhook-configurations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tool(rendered, "kubectl", "--kubeconfig", kubeconfigPath, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	mwc, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, haReleaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vwc, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, haReleaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := mwc.Webhooks[0].ClientConfig.Service
	if ref == nil || ref.Port == nil {
		t.Fatalf("the chart's mutating webhook has no service client config: %+v", mwc.Webhooks[0].ClientConfig)
	}
	hooks := map[string]struct {
		cc     admissionregv1.WebhookClientConfig
		policy *admissionregv1.FailurePolicyType
	}{mwc.Webhooks[0].Name: {mwc.Webhooks[0].ClientConfig, mwc.Webhooks[0].FailurePolicy}, vwc.Webhooks[0].Name: {vwc.Webhooks[0].ClientConfig, vwc.Webhooks[0].FailurePolicy}}
	for name, h := range hooks {
		if s := h.cc.Service; s == nil || s.Name != ref.Name || s.Namespace != ref.Namespace {
			t.Fatalf("webhook %s is not served by Service %s/%s", name, ref.Namespace, ref.Name)
		}
		// With Ignore a lost admission is a create stored unexpanded, which
		// the stream catches too; with Fail it is a failed create.
		t.Logf("webhook %s: failurePolicy %s", name, ptr.Deref(h.policy, ""))
	}
	svc, err := cs.CoreV1().Services(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	portName := ""
	for _, p := range svc.Spec.Ports {
		if p.Port == *ref.Port {
			portName = p.Name
		}
	}
	if portName == "" {
		t.Fatalf("Service %s has no port %d", svc.Name, *ref.Port)
	}

	replicas := map[string]*webhookReplica{}
	for _, name := range []string{"a", "b"} {
		r := &webhookReplica{name: name, binary: binary, kubeconfig: kubeconfigPath, ip: ip, service: svc.Name, config: haReleaseName}
		r.setPorts(freeTCPPorts(t, 3))
		replicas[name] = r
		// Not ready until the process is: what the EndpointSlice
		// controller publishes for a pod whose readiness probe fails.
		if err := setSlice(ctx, cs, endpointSlice(svc, portName, r, endpointStarting)); err != nil {
			t.Fatal(err)
		}
	}
	// Started together, as a Deployment's pods are: both race for the
	// Secret and the writer lease.
	for _, r := range replicas {
		r.launch(t)
	}
	for _, r := range replicas {
		r.ready(t)
		if err := setSlice(ctx, cs, endpointSlice(svc, portName, r, endpointReady)); err != nil {
			t.Fatal(err)
		}
	}
	tmpl, seed := seedObjects(t)
	if _, err := dc.Resource(computeTemplateGVR).Namespace(haAppNS).Create(ctx, tmpl, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the API server calls the webhook through the Service", func() error {
		probe := seed.DeepCopy()
		probe.SetName("probe")
		got, err := dc.Resource(rayClusterGVR).Namespace(haAppNS).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil {
			return err
		}
		return storedExpanded(got)
	})

	var created int64
	for it := range haIterations {
		victim, survivor := replicas["a"], replicas["b"]
		if it%2 == 1 {
			victim, survivor = survivor, victim
		}
		before := map[string]map[string]int{}
		for name, r := range replicas {
			if before[name], err = r.reviews(); err != nil {
				t.Fatalf("metrics of %s: %v", name, err)
			}
		}
		var atStop map[string]map[string]int
		var victimLate map[string]int
		var stopErr, lateErr error
		var stoppedAt time.Time
		// The victim's exit status and how long after SIGTERM it exited.
		type exit struct {
			err   error
			after time.Duration
		}
		victimExit := make(chan exit, 1)
		s := &admissionStream{}
		started := time.Now()
		s.run(dc, seed, fmt.Sprintf("ha-%d", it), haStreamRate, haStreamLength, haStopAfter, func() {
			atStop = map[string]map[string]int{}
			for name, r := range replicas {
				atStop[name], _ = r.reviews()
			}
			// A terminating pod: SIGTERM (the process keeps serving for
			// --shutdown-delay, as during the chart's preStop sleep) and,
			// haEndpointLag later, its endpoint turns not ready.
			stoppedAt = time.Now()
			victim.proc.signal(syscall.SIGTERM)
			go func() {
				err := victim.proc.wait(haShutdownDelay + 30*time.Second)
				victimExit <- exit{err, time.Since(stoppedAt)}
			}()
			time.Sleep(haEndpointLag)
			stopErr = setSlice(ctx, cs, endpointSlice(svc, portName, victim, endpointTerminating))
			// Reviews the victim answered after SIGTERM: shortly before the
			// end of its delay.
			time.Sleep(time.Until(stoppedAt.Add(haShutdownDelay - 500*time.Millisecond)))
			victimLate, lateErr = victim.reviews()
		})
		elapsed := time.Since(started)
		if stopErr != nil {
			t.Fatalf("mark %s's endpoint not ready: %v", victim.name, stopErr)
		}
		if lateErr != nil {
			t.Fatalf("%s's metrics during its shutdown delay: %v", victim.name, lateErr)
		}
		ex := <-victimExit
		if ex.err != nil {
			t.Fatalf("%s after SIGTERM: %v", victim.proc.name, ex.err)
		}
		after, err := survivor.reviews()
		if err != nil {
			t.Fatal(err)
		}
		n := s.ok.Load() + s.failed.Load()
		created += s.ok.Load()
		t.Logf("iteration %d: stopped %s %s into the stream; %d creates in %s (%.1f/s): %d succeeded, %d failed; "+
			"reviews before the stop: a=%d b=%d; %s answered %d more during its %s delay (endpoint not ready after %s) and exited (status 0) %s after SIGTERM; %s answered %d after the stop",
			it+1, victim.name, haStopAfter, n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), s.ok.Load(), s.failed.Load(),
			total2(atStop["a"], before["a"]), total2(atStop["b"], before["b"]),
			victim.name, total2(victimLate, atStop[victim.name]), haShutdownDelay, haEndpointLag, ex.after.Round(10*time.Millisecond),
			survivor.name, total2(after, atStop[survivor.name]))
		if s.failed.Load() != 0 || s.ok.Load() == 0 {
			t.Fatalf("iteration %d: %d creates failed (%d succeeded); first errors: %v", it+1, s.failed.Load(), s.ok.Load(), s.errs)
		}
		for name := range replicas {
			if total2(atStop[name], before[name]) == 0 {
				t.Fatalf("iteration %d: %s served no review before the stop; the Service did not spread the load", it+1, name)
			}
		}
		if total2(after, atStop[survivor.name]) == 0 {
			t.Fatalf("iteration %d: %s served nothing after %s stopped", it+1, survivor.name, victim.name)
		}

		// The pod's replacement: a new process on the same endpoint,
		// published ready once its readiness probe passes.
		victim.start(t)
		if err := setSlice(ctx, cs, endpointSlice(svc, portName, victim, endpointReady)); err != nil {
			t.Fatal(err)
		}
	}

	// Every create the stream saw succeed is stored, expanded.
	list, err := dc.Resource(rayClusterGVR).Namespace(haAppNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(list.Items)) != created {
		t.Fatalf("%d RayClusters stored, %d creates succeeded", len(list.Items), created)
	}
	for i := range list.Items {
		if err := storedExpanded(&list.Items[i]); err != nil {
			t.Fatalf("%s: %v", list.Items[i].GetName(), err)
		}
	}
	t.Logf("%d iterations: %d RayClusters created and stored expanded, none lost", haIterations, created)
}

// total2 is the number of reviews in now that were not in before.
func total2(now, before map[string]int) int { return total(now) - total(before) }

// countingListener counts the connections it accepted: which scaler
// replica talked to the Ray GCS.
type countingListener struct {
	net.Listener
	accepted atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.accepted.Add(1)
	}
	return c, err
}

// scalerReplica is one `raypilot scaler` process with its own address for
// the simulated GCS (so the test sees which replica reads it).
type scalerReplica struct {
	name            string
	gcs             *countingListener
	health, metrics string
	proc            *haProcess
	// connsAtStart is gcs.accepted when the replica started (a restarted
	// replica reuses its predecessor's listener).
	connsAtStart int64
	// roundsAtStart is rounds() once the replica was ready.
	roundsAtStart int
}

func startScaler(t *testing.T, binary, name string, gcs *countingListener, namespace string) *scalerReplica {
	t.Helper()
	r := &scalerReplica{name: name, gcs: gcs, connsAtStart: gcs.accepted.Load()}
	err := testcp.WithFreePorts(2, func(ports []int) error {
		r.health, r.metrics = localAddr(ports[0]), localAddr(ports[1])
		r.proc = startHAProcess(t, "scaler-"+name, binary, "scaler",
			"--kubeconfig", kubeconfig, "--gcs-proxy-address", gcs.Addr().String(), "--interval", haScalerInterval.String(),
			"--leader-elect", "--leader-elect-resource-namespace", namespace,
			"--leader-elect-lease-duration", haLeaseDuration.String(), "--leader-elect-renew-deadline", haRenewDeadline.String(),
			"--leader-elect-retry-period", haRetryPeriod.String(),
			"--metrics-bind-address", r.metrics, "--health-probe-bind-address", r.health)
		return r.proc.ready(r.health)
	})
	if err != nil {
		t.Fatal(err)
	}
	if r.roundsAtStart, err = r.rounds(); err != nil {
		t.Fatal(err)
	}
	return r
}

// rounds is the number of rounds the replica's controller ran, leading or
// not (a standby's round ends at the leadership check): the sum of its
// controller_runtime_reconcile_total{controller="raypilot-scaler"}.
func (r *scalerReplica) rounds() (int, error) {
	resp, err := scrape(r.metrics)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "controller_runtime_reconcile_total{") || !strings.Contains(line, `controller="raypilot-scaler"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		n += v
	}
	return int(n), sc.Err()
}

// waitRounds waits until the replica has run n rounds more than since, so
// that a check that it did nothing covers rounds it ran, not a stalled
// process.
func (r *scalerReplica) waitRounds(t *testing.T, since, n int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%s runs %d rounds", r.name, n), func() error {
		got, err := r.rounds()
		if err != nil {
			return err
		}
		if got-since < n {
			return fmt.Errorf("%d rounds", got-since)
		}
		return nil
	})
}

// scaled is the scale decisions the replica logged ("scaled", one per
// patched group).
func (r *scalerReplica) scaled() []string {
	var out []string
	for _, line := range strings.Split(r.proc.logText(), "\n") {
		var entry struct {
			Msg      string `json:"msg"`
			Decision string `json:"decision"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "scaled" {
			out = append(out, entry.Decision)
		}
	}
	return out
}

// leadIdentity is the lease identity the replica logged when it started
// leading ("" if it never led).
func (r *scalerReplica) leadIdentity() string {
	for _, line := range strings.Split(r.proc.logText(), "\n") {
		var entry struct {
			Msg      string `json:"msg"`
			Identity string `json:"identity"`
		}
		if json.Unmarshal([]byte(line), &entry) == nil && entry.Msg == "leading" {
			return entry.Identity
		}
	}
	return ""
}

// leaseWatch records every holder of a Lease, polling it.
type leaseWatch struct {
	mu      sync.Mutex
	holders []leaseHolder
}

type leaseHolder struct {
	identity string
	since    time.Time
}

func watchLease(ctx context.Context, cs kubernetes.Interface, ns, name string) *leaseWatch {
	w := &leaseWatch{}
	go func() {
		for ctx.Err() == nil {
			l, err := cs.CoordinationV1().Leases(ns).Get(ctx, name, metav1.GetOptions{})
			if err == nil {
				w.observe(l)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return w
}

func (w *leaseWatch) observe(l *coordinationv1.Lease) {
	id := ptr.Deref(l.Spec.HolderIdentity, "")
	w.mu.Lock()
	defer w.mu.Unlock()
	if n := len(w.holders); n == 0 || w.holders[n-1].identity != id {
		w.holders = append(w.holders, leaseHolder{identity: id, since: time.Now()})
	}
}

func (w *leaseWatch) current() leaseHolder {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.holders) == 0 {
		return leaseHolder{}
	}
	return w.holders[len(w.holders)-1]
}

// firstHolderAfter is the first non-empty holder other than old seen after t.
func (w *leaseWatch) firstHolderAfter(t time.Time, old string) (leaseHolder, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.holders {
		if h.since.After(t) && h.identity != "" && h.identity != old {
			return h, true
		}
	}
	return leaseHolder{}, false
}

// centralSeed is examples/raycluster.yaml as the webhook stores it under a
// policy with autoscaling mode central (the same engine, offline).
func centralSeed(t *testing.T, ns string) *rayv1.RayCluster {
	t.Helper()
	var docs []manifest.Document
	for _, f := range []string{"compute-template.yaml", "raycluster.yaml"} {
		fh, err := os.Open(filepath.Join(repoRoot, "examples", f))
		if err != nil {
			t.Fatal(err)
		}
		d, err := manifest.Read(fh, f)
		fh.Close()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d...)
	}
	policy, err := defaults.ParsePolicy([]byte("defaults:\n  autoscaling: {mode: central}\n"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := manifest.Expand(docs, policy, ns)
	if err != nil || len(out.Errors) > 0 {
		t.Fatalf("expand the seed: %v %v", err, out.Errors)
	}
	for _, d := range out.Documents {
		if d.Kind == "RayCluster" {
			rc := &rayv1.RayCluster{}
			if err := json.Unmarshal(d.JSON, rc); err != nil {
				t.Fatal(err)
			}
			rc.Namespace = ns
			return rc
		}
	}
	t.Fatal("no RayCluster in examples/raycluster.yaml")
	return nil
}

// rayPod is a Ray pod as KubeRay creates it for rc's group, with the
// labels the scaler and raysim select on.
func rayPod(rc *rayv1.RayCluster, name, nodeType, group string, spec *corev1.PodSpec) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: rc.Namespace, Labels: map[string]string{
			"ray.io/cluster": rc.Name, "ray.io/is-ray-node": "yes", "ray.io/node-type": nodeType, "ray.io/group": group,
			"ray.io/identifier": rc.Name + "-" + nodeType, "app.kubernetes.io/created-by": "kuberay-operator",
		}, OwnerReferences: []metav1.OwnerReference{{APIVersion: "ray.io/v1", Kind: "RayCluster", Name: rc.Name, UID: rc.UID,
			Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: *spec.DeepCopy(),
	}
}

// runPod creates pod and sets it Running with ip, as kwok does for a pod
// the scheduler bound.
func runPod(ctx context.Context, cl client.Client, pod *corev1.Pod, ip string) error {
	if err := cl.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s: %w", pod.Name, err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip, PodIPs: []corev1.PodIP{{IP: ip}}, HostIP: "10.0.0.1",
		StartTime:  ptr.To(metav1.Now()),
		Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := cl.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("set pod %s Running: %w", pod.Name, err)
	}
	return nil
}

// fakeOperator does KubeRay's part for one cluster's worker group: it
// creates a Running worker pod for every replica the scaler asks for (the
// test never scales down: every worker holds an actor).
func fakeOperator(ctx context.Context, cl client.Client, key client.ObjectKey, errs chan<- error) {
	created := 0
	for ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		rc := &rayv1.RayCluster{}
		if err := cl.Get(ctx, key, rc); err != nil {
			continue
		}
		g := rc.Spec.WorkerGroupSpecs[0]
		for created < int(ptr.Deref(g.Replicas, 0)) {
			created++
			pod := rayPod(rc, fmt.Sprintf("%s-%s-worker-%d", rc.Name, g.GroupName, created), "worker", g.GroupName, &g.Template.Spec)
			if err := runPod(ctx, cl, pod, fmt.Sprintf("10.244.1.%d", created)); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
		}
	}
}

// simCall calls raysim's HTTP control API in process.
func simCall(sim *raysim.Sim, method, path string, body any) (int, string) {
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = strings.NewReader(string(data))
	}
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, httptest.NewRequest(method, path, r))
	return rec.Code, rec.Body.String()
}

// With two scaler replicas electing a leader, stopping the leader hands
// leadership over and scaling continues within 20 s: once with SIGTERM
// (the lease is released) and once with SIGKILL (the lease must expire).
// Only the lease holder reads the GCS and patches. Ray is raysim in
// process (the real gRPC API, nodes from the Ray pods); the test plays
// KubeRay and kwok, creating the Ray pods Running.
func TestScalerHALeaderHandover(t *testing.T) {
	const ns = "ha-scaler"
	binary := buildBinary(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = rayv1.AddToScheme(scheme)
	cl, err := client.New(env.Config, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, cs, ns)

	// raysim: one simulated GCS, served on two listeners, one per replica.
	sim := raysim.New(nil)
	go func() { _ = sim.Run(ctx, cs, 100*time.Millisecond) }()
	listeners := map[string]*countingListener{}
	for _, name := range []string{"a", "b"} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		listeners[name] = &countingListener{Listener: ln}
		srv := sim.GRPCServer()
		go func() { _ = srv.Serve(listeners[name]) }()
		t.Cleanup(srv.Stop)
	}

	// The seed's template (the shared control plane's webhook reviews the
	// cluster's create and looks it up), the cluster as the webhook leaves
	// it for the central scaler, and its head pod Running.
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, _ := seedObjects(t)
	tmpl.SetNamespace(ns)
	if _, err := dc.Resource(computeTemplateGVR).Namespace(ns).Create(ctx, tmpl, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	rc := centralSeed(t, ns)
	rc.Name = "ha-seed"
	if err := cl.Create(ctx, rc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cl.Delete(context.Background(), rc)
		// No garbage collector in this control plane: the pods go by hand.
		_ = cl.DeleteAllOf(context.Background(), &corev1.Pod{}, client.InNamespace(ns), client.MatchingLabels{"ray.io/cluster": rc.Name},
			client.GracePeriodSeconds(0))
	})
	if rc.Annotations[defaults.AnnotationAutoscaling] != defaults.AutoscalingCentral || ptr.Deref(rc.Spec.EnableInTreeAutoscaling, true) {
		t.Fatalf("stored cluster not handed to the central scaler: annotation %q, enableInTreeAutoscaling %v",
			rc.Annotations[defaults.AnnotationAutoscaling], rc.Spec.EnableInTreeAutoscaling)
	}
	head := rayPod(rc, rc.Name+"-head", "head", "headgroup", &rc.Spec.HeadGroupSpec.Template.Spec)
	// The `ray start` KubeRay generates: the head advertises no CPU.
	head.Spec.Containers[0].Env = append(head.Spec.Containers[0].Env, corev1.EnvVar{Name: "KUBERAY_GEN_RAY_START_CMD",
		Value: "ray start --head --num-cpus=" + rc.Spec.HeadGroupSpec.RayStartParams["num-cpus"]})
	if err := runPod(ctx, cl, head, "10.244.0.1"); err != nil {
		t.Fatal(err)
	}
	opErrs := make(chan error, 1)
	go fakeOperator(ctx, cl, client.ObjectKeyFromObject(rc), opErrs)

	lease := watchLease(ctx, cs, ns, "raypilot-scaler")
	// a starts first and leads; b is the standby.
	a := startScaler(t, binary, "a", listeners["a"], ns)
	eventually(t, 60*time.Second, "a holds the lease", func() error {
		if lease.current().identity == "" {
			return errors.New("no holder")
		}
		return nil
	})
	idA := lease.current().identity
	if got := a.leadIdentity(); got != idA {
		t.Fatalf("lease held by %q, a leads as %q", idA, got)
	}
	b := startScaler(t, binary, "b", listeners["b"], ns)

	// demand posts an actor of one worker's CPU and waits until the worker
	// group reaches want replicas, the worker pod runs and the actor is
	// placed on it; it returns when the replicas patch was seen.
	workerCPU := rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers[0].Resources.Limits.Cpu().Value()
	demand := func(actor string, want int32, deadline time.Time) time.Time {
		t.Helper()
		if code, body := simCall(sim, http.MethodPost, "/v1/clusters/"+ns+"/"+rc.Name+"/actors",
			map[string]any{"name": actor, "resources": map[string]float64{"CPU": float64(workerCPU)}}); code != http.StatusCreated {
			t.Fatalf("post actor %s: %d %s", actor, code, body)
		}
		var patched time.Time
		for {
			select {
			case err := <-opErrs:
				t.Fatal(err)
			default:
			}
			cur := &rayv1.RayCluster{}
			if err := cl.Get(ctx, client.ObjectKeyFromObject(rc), cur); err == nil {
				got := ptr.Deref(cur.Spec.WorkerGroupSpecs[0].Replicas, 0)
				if got > want {
					t.Fatalf("replicas %d, want %d: scaled twice for one actor", got, want)
				}
				if got == want && patched.IsZero() {
					patched = time.Now()
				}
			}
			if !patched.IsZero() {
				_, state := simCall(sim, http.MethodGet, "/v1/clusters/"+ns+"/"+rc.Name+"/state", nil)
				var st struct {
					Pending []json.RawMessage `json:"pendingResourceRequests"`
				}
				if json.Unmarshal([]byte(state), &st) == nil && len(st.Pending) == 0 {
					return patched
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("actor %s: replicas not %d by the deadline (patched: %v)", actor, want, !patched.IsZero())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// 1. The leader scales; the standby, running its rounds meanwhile, does
	// not even read the GCS.
	bRounds, err := b.rounds()
	if err != nil {
		t.Fatal(err)
	}
	demand("actor-1", 1, time.Now().Add(60*time.Second))
	b.waitRounds(t, bRounds, haStandbyRounds)
	if got := a.scaled(); len(got) != 1 {
		t.Fatalf("a logged %d scale decisions, want 1: %v", len(got), got)
	}
	if got := b.scaled(); len(got) != 0 || listeners["b"].accepted.Load() != 0 {
		t.Fatalf("standby b scaled %v and opened %d GCS connections", got, listeners["b"].accepted.Load())
	}

	// handover stops the leader with sig, posts new demand once it is gone
	// and checks the standby takes the lease and scales it within the bound.
	handover := func(sigName string, sig syscall.Signal, leader, standby *scalerReplica, oldID, actor string, want int32) string {
		t.Helper()
		standby.waitRounds(t, standby.roundsAtStart, haStandbyRounds)
		standbyConns := standby.gcs.accepted.Load()
		if got := standby.scaled(); len(got) != 0 || standbyConns != standby.connsAtStart {
			t.Fatalf("standby %s scaled %v and opened %d GCS connections while a standby", standby.name, got, standbyConns-standby.connsAtStart)
		}
		leaderScaled := len(leader.scaled())
		stopped := time.Now()
		leader.proc.signal(sig)
		err := leader.proc.wait(30 * time.Second)
		if sig == syscall.SIGTERM && err != nil {
			t.Fatalf("%s after SIGTERM: %v", leader.name, err)
		}
		exited := time.Since(stopped)
		patched := demand(actor, want, stopped.Add(haHandoverBound))
		h, ok := lease.firstHolderAfter(stopped, oldID)
		if !ok {
			t.Fatalf("%s: scaled but no new lease holder seen", sigName)
		}
		if got := leader.scaled(); len(got) != leaderScaled {
			t.Fatalf("stopped leader %s scaled after the stop: %v", leader.name, got)
		}
		if got := standby.scaled(); len(got) != 1 {
			t.Fatalf("new leader %s logged %d scale decisions, want 1: %v", standby.name, len(got), got)
		}
		if id := standby.leadIdentity(); id != h.identity {
			t.Fatalf("lease taken by %q, but %s (which scaled) leads as %q", h.identity, standby.name, id)
		}
		if standby.gcs.accepted.Load() == standbyConns {
			t.Fatalf("new leader %s never read the GCS", standby.name)
		}
		l, err := cs.CoordinationV1().Leases(ns).Get(ctx, "raypilot-scaler", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s to leader %s: exited after %s; lease (duration %ds) to %s after %s; actor posted then scaled to %d by %s %s after the stop (bound %s)",
			sigName, leader.name, exited.Round(10*time.Millisecond), ptr.Deref(l.Spec.LeaseDurationSeconds, 0), standby.name, h.since.Sub(stopped).Round(10*time.Millisecond),
			want, standby.name, patched.Sub(stopped).Round(10*time.Millisecond), haHandoverBound)
		return h.identity
	}

	// 2. SIGTERM: a releases the lease, b takes over.
	idB := handover("SIGTERM", syscall.SIGTERM, a, b, idA, "actor-2", 2)
	if idB == idA {
		t.Fatal("lease holder identity unchanged")
	}
	// 3. a comes back as the standby; SIGKILL b: the lease must expire.
	a2 := startScaler(t, binary, "a2", listeners["a"], ns)
	time.Sleep(3 * time.Second) // a2 observes b's renewals, as a standby pod would
	idA2 := handover("SIGKILL", syscall.SIGKILL, b, a2, idB, "actor-3", 3)
	if idA2 == idB || idA2 == idA {
		t.Fatalf("lease holder %q after SIGKILL: not a new identity", idA2)
	}
	if got := a2.scaled(); len(got) != 1 {
		t.Fatalf("a2 logged %v", got)
	}
	// Every scale decision of the run was logged once, by one replica.
	all := append(append(a.scaled(), b.scaled()...), a2.scaled()...)
	if len(all) != 3 {
		t.Fatalf("%d scale decisions logged in all, want 3: %v", len(all), all)
	}
}
