package integration

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
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/raypilot/raypilot/internal/certrotate"
	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/lease"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/webhook"
)

// servedLeaf is the certificate the instance presents right now.
func servedLeaf(addr string) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // we inspect the certificate
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

// verifiesAs checks leaf as the API server does for a url client config at
// 127.0.0.1: chain to caBundle, IP SAN, server auth.
func verifiesAs(caBundle []byte, leaf *x509.Certificate) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caBundle) {
		return errors.New("caBundle empty")
	}
	_, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// probe GETs url and returns the status code and body; a server that
// does not answer (another process holding the port) fails it in time.
func probe(url string) (int, string) {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// eventually polls cond every 200 ms until it returns nil or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// restrictedUser is an identity holding exactly the RBAC certrotate's doc
// comment tells the chart to grant (plus the webhook's template reads).
func restrictedUser(t *testing.T, cs kubernetes.Interface, secretNS, secret, lease, mutating, validating string) *rest.Config {
	t.Helper()
	const user = "raypilot-certrotate-test"
	ctx := context.Background()
	rules := map[string][]rbacv1.PolicyRule{
		"cluster": {
			{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"mutatingwebhookconfigurations"}, ResourceNames: []string{mutating}, Verbs: []string{"list", "watch", "update"}},
			{APIGroups: []string{"admissionregistration.k8s.io"}, Resources: []string{"validatingwebhookconfigurations"}, ResourceNames: []string{validating}, Verbs: []string{"list", "watch", "update"}},
			// What the webhook reads to expand templates (not part of certrotate).
			{APIGroups: []string{"raypilot.io"}, Resources: []string{"computetemplates", "clustercomputetemplates"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch"}},
		},
		"namespace": {
			{APIGroups: []string{""}, Resources: []string{"secrets"}, ResourceNames: []string{secret}, Verbs: []string{"list", "watch", "update"}},
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"create"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{lease}, Verbs: []string{"get", "update"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
		},
	}
	subj := []rbacv1.Subject{{Kind: rbacv1.UserKind, Name: user, APIGroup: rbacv1.GroupName}}
	meta := metav1.ObjectMeta{Name: user}
	mustCreate(t, func() error {
		_, err := cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: meta, Rules: rules["cluster"]}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: meta, Subjects: subj,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: user}}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.RbacV1().Roles(secretNS).Create(ctx, &rbacv1.Role{ObjectMeta: meta, Rules: rules["namespace"]}, metav1.CreateOptions{})
		return err
	})
	mustCreate(t, func() error {
		_, err := cs.RbacV1().RoleBindings(secretNS).Create(ctx, &rbacv1.RoleBinding{ObjectMeta: meta, Subjects: subj,
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: user}}, metav1.CreateOptions{})
		return err
	})
	u, err := env.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return u.Config()
}

func mustCreate(t *testing.T, create func() error) {
	t.Helper()
	if err := create(); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

func ensureNamespace(t *testing.T, cs kubernetes.Interface, name string) {
	t.Helper()
	mustCreate(t, func() error {
		_, err := cs.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
		return err
	})
}

// webhookConfigs are the configurations as a chart renders them for a
// self-managed install: no caBundle; url client configs to the two
// instances (mutating → a, validating → b) so both replicas are in the
// admission path; limited to one namespace; failurePolicy Fail, so any TLS
// failure is a failed create.
func webhookConfigs(name, ns, a, b string) (*admissionregv1.MutatingWebhookConfiguration, *admissionregv1.ValidatingWebhookConfiguration) {
	rules := []admissionregv1.RuleWithOperations{{
		Operations: []admissionregv1.OperationType{admissionregv1.Create, admissionregv1.Update},
		Rule:       admissionregv1.Rule{APIGroups: []string{"ray.io"}, APIVersions: []string{"v1"}, Resources: []string{"rayclusters"}},
	}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	fail, none := admissionregv1.Fail, admissionregv1.SideEffectClassNone
	m := &admissionregv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}, Webhooks: []admissionregv1.MutatingWebhook{{
		Name: "expand.certrotate.raypilot.io", ClientConfig: admissionregv1.WebhookClientConfig{URL: ptr.To("https://" + a + webhook.MutatePath)},
		Rules: rules, NamespaceSelector: sel, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: ptr.To[int32](5), AdmissionReviewVersions: []string{"v1"},
	}}}
	v := &admissionregv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name}, Webhooks: []admissionregv1.ValidatingWebhook{{
		Name: "validate.certrotate.raypilot.io", ClientConfig: admissionregv1.WebhookClientConfig{URL: ptr.To("https://" + b + webhook.ValidatePath)},
		Rules: rules, NamespaceSelector: sel, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: ptr.To[int32](5), AdmissionReviewVersions: []string{"v1"},
	}}}
	return m, v
}

// caBundles returns the caBundle of every webhook of both configurations.
func caBundles(ctx context.Context, cs kubernetes.Interface, name string) (map[string][]byte, error) {
	out := map[string][]byte{}
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range m.Webhooks {
		out["mutating/"+w.Name] = w.ClientConfig.CABundle
	}
	v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	for _, w := range v.Webhooks {
		out["validating/"+w.Name] = w.ClientConfig.CABundle
	}
	return out, nil
}

// allTrust checks that every webhook's caBundle verifies what every
// instance serves now.
func allTrust(ctx context.Context, cs kubernetes.Interface, name string, ins ...*instance) error {
	bundles, err := caBundles(ctx, cs, name)
	if err != nil {
		return err
	}
	for _, in := range ins {
		leaf, err := servedLeaf(in.addr)
		if err != nil {
			return fmt.Errorf("%s: %w", in.name, err)
		}
		for hook, b := range bundles {
			if err := verifiesAs(b, leaf); err != nil {
				return fmt.Errorf("%s does not trust %s's certificate %x: %w", hook, in.name, leaf.SerialNumber, err)
			}
		}
	}
	return nil
}

var rayClusterGVR = schema.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"}

// createStream creates compact RayClusters in ns one after another until
// stop is closed, through the API server and so through both webhook
// configurations (the shared one of main_test.go and the test's own).
type createStream struct {
	ok, failed atomic.Int64
	mu         sync.Mutex
	firstErrs  []string
	done       chan struct{}
}

func startStream(dc dynamic.Interface, ns string, stop <-chan struct{}) *createStream {
	s := &createStream{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			obj := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "ray.io/v1", "kind": "RayCluster",
				"metadata": map[string]any{"name": fmt.Sprintf("rot-%d", i)},
				"spec":     map[string]any{"rayVersion": "2.9.0", "headGroupSpec": map[string]any{"template": map[string]any{}}},
			}}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			got, err := dc.Resource(rayClusterGVR).Namespace(ns).Create(ctx, obj, metav1.CreateOptions{})
			cancel()
			if err == nil && !strings.Contains(fmt.Sprint(got.Object["spec"]), "ray-head") {
				err = errors.New("stored unexpanded")
			}
			if err != nil {
				s.failed.Add(1)
				s.mu.Lock()
				if len(s.firstErrs) < 5 {
					s.firstErrs = append(s.firstErrs, err.Error())
				}
				s.mu.Unlock()
			} else {
				s.ok.Add(1)
			}
			time.Sleep(100 * time.Millisecond) // a steady stream, not a load test
		}
	}()
	return s
}

// Self-managed certificates end to end, on a real API server, with two
// replicas running under exactly the RBAC the chart grants: the Secret is
// created, the CA injected into both configurations once they exist,
// readiness follows the injection, serving certificate and CA are renewed
// and served without a restart while admissions keep succeeding, a reset
// caBundle is re-injected, only the leader writes, and the lease passes on
// when the leader stops.
func TestSelfManagedCertificates(t *testing.T) {
	const (
		ns      = "certrotate"
		certNS  = "raypilot-certs"
		secret  = "webhook-tls"
		cfgName = "raypilot-certrotate"
	)
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ensureNamespace(t, cs, ns)
	ensureNamespace(t, cs, certNS)
	user := restrictedUser(t, cs, certNS, secret, secret+"-writer", cfgName, cfgName)
	t.Cleanup(func() {
		_ = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, cfgName, metav1.DeleteOptions{})
		_ = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, cfgName, metav1.DeleteOptions{})
		_ = dc.Resource(rayClusterGVR).Namespace(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
	})

	opts := func(identity string) webhook.Options {
		return webhook.Options{CertMode: webhook.CertModeSelfManaged, SelfManaged: certrotate.Options{
			SecretName: secret, SecretNamespace: certNS,
			Hosts:          certrotate.Hosts("raypilot-webhook", certNS, []string{"127.0.0.1"}),
			MutatingConfig: cfgName, ValidatingConfig: cfgName,
			// Short enough to see two leaf renewals and a CA roll in a minute.
			LeafValidity: 20 * time.Second, CAValidity: 60 * time.Second,
			LeaderElection: true, Lease: lease.Options{Identity: identity},
		}}
	}
	a := startInstance(t, "a", user, opts("a"))
	b := startInstance(t, "b", user, opts("b"))

	// 1. The Secret is created and both replicas serve from it, while the
	//    configurations do not exist yet: not ready.
	var sec *corev1.Secret
	eventually(t, 60*time.Second, "Secret created and served by both replicas", func() error {
		sec, err = cs.CoreV1().Secrets(certNS).Get(ctx, secret, metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, in := range []*instance{a, b} {
			leaf, err := servedLeaf(in.addr)
			if err != nil {
				return fmt.Errorf("%s: %w", in.name, err)
			}
			if err := verifiesAs(sec.Data[certrotate.KeyBundle], leaf); err != nil {
				return fmt.Errorf("%s: %w", in.name, err)
			}
		}
		return nil
	})
	if sec.Type != corev1.SecretTypeTLS {
		t.Errorf("Secret type %s, want %s", sec.Type, corev1.SecretTypeTLS)
	}
	for _, in := range []*instance{a, b} {
		code, body := probe(in.health + "/readyz?verbose")
		if code == http.StatusOK || !strings.Contains(body, "ca-bundle") {
			t.Fatalf("%s ready (%d) before the webhook configurations exist:\n%s", in.name, code, body)
		}
	}

	// 2. The configurations appear without caBundle (helm install): the
	//    leader injects it and readiness turns true, only then.
	m, v := webhookConfigs(cfgName, ns, a.addr, b.addr)
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, m, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*instance{a, b} {
		if err := testcp.WaitReady(ctx, in.health+"/readyz", 60*time.Second, nil); err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
	}
	if err := allTrust(ctx, cs, cfgName, a, b); err != nil {
		t.Fatalf("ready, but: %v", err)
	}

	// 3. A stream of creates through both configurations while the
	//    serving certificate renews and the CA rolls.
	first, _ := servedLeaf(a.addr)
	stop := make(chan struct{})
	stream := startStream(dc, ns, stop)
	leaves, issuers := map[string]bool{}, map[string]bool{}
	started := time.Now()
	eventually(t, 150*time.Second, "three serving certificates and a CA roll", func() error {
		for _, in := range []*instance{a, b} {
			leaf, err := servedLeaf(in.addr)
			if err != nil {
				return err
			}
			leaves[leaf.SerialNumber.String()] = true
			issuers[leaf.Issuer.CommonName] = true
		}
		if len(leaves) < 3 || len(issuers) < 2 {
			return fmt.Errorf("%d serving certificates, %d CAs seen", len(leaves), len(issuers))
		}
		return nil
	})
	close(stop)
	<-stream.done
	t.Logf("in %s: %d serving certificates and %d CAs served; creates: %d succeeded, %d failed",
		time.Since(started).Round(time.Second), len(leaves), len(issuers), stream.ok.Load(), stream.failed.Load())
	if stream.failed.Load() != 0 || stream.ok.Load() == 0 {
		t.Fatalf("creates during rotation: %d succeeded, %d failed; first errors: %v", stream.ok.Load(), stream.failed.Load(), stream.firstErrs)
	}
	if now, _ := servedLeaf(a.addr); now.Equal(first) {
		t.Fatal("serving certificate unchanged")
	}
	if err := allTrust(ctx, cs, cfgName, a, b); err != nil {
		t.Fatalf("after renewal: %v", err)
	}

	// 4. Only the leader wrote.
	leader, follower := a, b
	if b.writes.Load() > 0 {
		leader, follower = b, a
	}
	if leader.writes.Load() == 0 || follower.writes.Load() != 0 {
		t.Fatalf("writes: a=%d b=%d; want exactly one writer", a.writes.Load(), b.writes.Load())
	}
	lease, err := cs.CoordinationV1().Leases(certNS).Get(ctx, secret+"-writer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != leader.name {
		t.Fatalf("lease held by %q, but %s wrote", got, leader.name)
	}

	// 5. helm upgrade resets the caBundle of one configuration: re-injected.
	mc, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, cfgName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mc.Webhooks[0].ClientConfig.CABundle = nil
	if _, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, mc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	reset := time.Now()
	eventually(t, 30*time.Second, "caBundle re-injected after a reset", func() error { return allTrust(ctx, cs, cfgName, a, b) })
	t.Logf("caBundle re-injected %s after the reset", time.Since(reset).Round(10*time.Millisecond))

	// 6. The leader stops (gracefully, releasing the lease): the other
	//    replica takes over and keeps renewing.
	leader.stop()
	if leader.err != nil {
		t.Fatalf("%s stopped with %v", leader.name, leader.err)
	}
	before, _ := servedLeaf(follower.addr)
	eventually(t, 60*time.Second, follower.name+" takes over the writes", func() error {
		if follower.writes.Load() == 0 {
			return errors.New("no write yet")
		}
		leaf, err := servedLeaf(follower.addr)
		if err != nil {
			return err
		}
		if leaf.Equal(before) {
			return errors.New("still the previous certificate")
		}
		return nil
	})
	lease, err = cs.CoordinationV1().Leases(certNS).Get(ctx, secret+"-writer", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(lease.Spec.HolderIdentity, ""); got != follower.name {
		t.Fatalf("lease held by %q after %s stopped", got, leader.name)
	}
	// What is published holds certificates only.
	bundles, err := caBundles(ctx, cs, cfgName)
	if err != nil {
		t.Fatal(err)
	}
	for hook, b := range bundles {
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s: caBundle holds a private key", hook)
		}
	}
}

// A review whose body is still arriving when the webhook is told to stop
// gets its response; new connections are refused meanwhile; Run returns
// without error.
func TestWebhookDrainsInFlightReviewOnShutdown(t *testing.T) {
	bundle, err := certs.Generate([]string{"127.0.0.1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/tls.crt", bundle.Cert, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/tls.key", bundle.Key, 0o600); err != nil {
		t.Fatal(err)
	}
	in := startInstance(t, "drain", env.Config, webhook.Options{CertDir: dir})
	if err := testcp.WaitReady(context.Background(), in.health+"/readyz", 60*time.Second, nil); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(bundle.CACert)
	conn, err := tls.Dial("tcp", in.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body, _ := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: "in-flight", Operation: admissionv1.Create, Namespace: "default",
			Kind:     metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: "RayCluster"},
			Resource: metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"},
			Object:   runtime.RawExtension{Raw: []byte(`{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"drain","namespace":"default"},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}`)},
		},
	})
	half := len(body) / 2
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: webhook\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", webhook.MutatePath, len(body))
	if _, err := conn.Write(body[:half]); err != nil {
		t.Fatal(err)
	}
	// The request is in flight once controller-runtime's hook counts it
	// (it does so before reading the body). Only this test talks to the
	// mutate path now, so the process-wide gauge is this request's.
	gauge := fmt.Sprintf(`controller_runtime_webhook_requests_in_flight{webhook="%s"} 1`, webhook.MutatePath)
	eventually(t, 30*time.Second, "review counted in flight", func() error {
		if _, m := probe(in.metrics + "/metrics"); !strings.Contains(m, gauge) {
			return errors.New("gauge not 1")
		}
		return nil
	})
	in.cancel()
	eventually(t, 30*time.Second, "listener closed", func() error {
		c, err := net.DialTimeout("tcp", in.addr, time.Second)
		if err != nil {
			return nil
		}
		c.Close()
		return errors.New("still accepting")
	})
	if _, err := conn.Write(body[half:]); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("in-flight review got no response: %v", err)
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || out.Response == nil || out.Response.UID != "in-flight" || !out.Response.Allowed || len(out.Response.Patch) == 0 {
		t.Fatalf("in-flight review: status %d, response %+v", resp.StatusCode, out.Response)
	}
	<-in.done
	if in.err != nil {
		t.Fatalf("webhook.Run: %v", in.err)
	}
}

// The shared webhook refuses a declared oversized review with 413 before
// reading it, and keeps serving.
func TestWebhookRefusesOversizedReview(t *testing.T) {
	const size = 8 << 20
	// Only the HTTP handling is under test; the certificate is TestTLSSettings' business.
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ExpectContinueTimeout: 10 * time.Second}} //nolint:gosec // see above
	req, _ := http.NewRequest(http.MethodPost, "https://"+webhookAddr+webhook.ValidatePath, io.LimitReader(zeroReader{}, size))
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	if err := waitWebhookActive(); err != nil {
		t.Fatalf("webhook after an oversized review: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// The scaler releases its lease when stopped, so a standby takes over at
// once instead of after the lease duration.
func TestScalerReleasesLeaseOnShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	log, _ := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	go func() {
		done <- scaler.Run(ctx, env.Config, scaler.Options{Interval: time.Second, Concurrency: 1, GCSTimeout: time.Second,
			LeaderElection: true, LeaderElectionNamespace: "default", MetricsAddr: "0", HealthAddr: "0"}, log)
	}()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var holder string
	eventually(t, 60*time.Second, "scaler holds its lease", func() error {
		l, err := cs.CoordinationV1().Leases("default").Get(ctx, "raypilot-scaler", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if holder = ptr.Deref(l.Spec.HolderIdentity, ""); holder == "" {
			return errors.New("no holder")
		}
		return nil
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("scaler.Run: %v", err)
	}
	l, err := cs.CoordinationV1().Leases("default").Get(context.Background(), "raypilot-scaler", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ptr.Deref(l.Spec.HolderIdentity, ""); got != "" {
		t.Fatalf("lease still held by %q (was %q) after the scaler stopped", got, holder)
	}
}
