package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/api/v1alpha1"
	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/webhook"
)

// environment is everything the run starts; close tears it down.
type environment struct {
	tmp         string
	env         *envtest.Environment
	proc        *testcp.Process
	baseline    *http.Server
	caPool      *x509.CertPool
	review      []byte
	webhookURL  string
	baselineURL string
}

func setup(ctx context.Context, binary string) (*environment, error) {
	bin := os.Getenv("RAYPILOT_TOOLS_BIN")
	if bin == "" {
		return nil, errors.New("RAYPILOT_TOOLS_BIN is not set; run with RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir)")
	}
	root, err := testcp.RepoRoot()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "raypilot-webhookload-")
	if err != nil {
		return nil, err
	}
	e := &environment{tmp: tmp}

	// The review: examples/raycluster.yaml created in namespace default.
	y, err := os.ReadFile(filepath.Join(root, "examples", "raycluster.yaml"))
	if err != nil {
		return e, err
	}
	seed, err := yaml.YAMLToJSON(y)
	if err != nil {
		return e, err
	}
	if e.review, err = admissionReview(seed); err != nil {
		return e, err
	}

	if binary == "" {
		binary = filepath.Join(tmp, "raypilot")
		fmt.Fprintln(os.Stderr, "webhookload: building ./cmd/raypilot")
		build := exec.CommandContext(ctx, "go", "build", "-o", binary, "./cmd/raypilot")
		build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return e, fmt.Errorf("go build ./cmd/raypilot: %w", err)
		}
	}

	fmt.Fprintln(os.Stderr, "webhookload: starting envtest control plane")
	e.env = &envtest.Environment{
		BinaryAssetsDirectory:    bin,
		CRDDirectoryPaths:        []string{filepath.Join(root, "charts", "raypilot", "crds")},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
	}
	cfg, err := e.env.Start()
	if err != nil {
		e.env = nil
		return e, fmt.Errorf("start control plane: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return e, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return e, err
	}
	tmpl := &v1alpha1.ComputeTemplate{
		ObjectMeta: metav1.ObjectMeta{Name: "default-template", Namespace: "default"},
		Spec:       v1alpha1.ComputeTemplateSpec{CPU: resource.MustParse("2"), Memory: resource.MustParse("4Gi")},
	}
	if err := cl.Create(ctx, tmpl); err != nil {
		return e, fmt.Errorf("create ComputeTemplate: %w", err)
	}
	user, err := e.env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return e, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return e, err
	}
	kubeconfig := filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return e, err
	}

	bundle, err := certs.Generate([]string{"127.0.0.1", "localhost"}, 24*time.Hour, time.Now())
	if err != nil {
		return e, err
	}
	certDir := filepath.Join(tmp, "certs")
	if err := bundle.WriteDir(certDir); err != nil {
		return e, err
	}
	e.caPool = x509.NewCertPool()
	e.caPool.AppendCertsFromPEM(bundle.CACert)

	fmt.Fprintln(os.Stderr, "webhookload: starting raypilot webhook")
	// The webhook binds the port numbers it is given; when another process
	// took one after it was chosen, it exits, and runs again on new ports.
	err = testcp.WithFreePorts(2, func(ports []int) error {
		var serr error
		e.webhookURL = fmt.Sprintf("https://127.0.0.1:%d%s", ports[0], webhook.MutatePath)
		e.proc, serr = testcp.StartWebhook(ctx, binary, filepath.Join(tmp, "webhook.log"), certDir, kubeconfig, ports[0], ports[1])
		return serr
	})
	if err != nil {
		return e, err
	}

	// Baseline: same TLS settings as the webhook (TLS 1.2+, HTTP/1.1 only),
	// same decode and encode, no expansion.
	cert, err := tls.X509KeyPair(bundle.Cert, bundle.Key)
	if err != nil {
		return e, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return e, err
	}
	mux := http.NewServeMux()
	mux.Handle(webhook.MutatePath, &admission.Webhook{Handler: admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		return admission.Allowed("")
	})})
	e.baseline = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}},
	}
	go func() { _ = e.baseline.ServeTLS(ln, "", "") }()
	e.baselineURL = fmt.Sprintf("https://%s%s", ln.Addr(), webhook.MutatePath)

	// The webhook answers the seed with a patch: the template was found.
	if err := checkMutates(e.webhookURL, e.caPool, e.review); err != nil {
		return e, fmt.Errorf("webhook sanity check: %w", err)
	}
	return e, nil
}

// close stops the webhook process (SIGTERM, then SIGKILL after 10s), the
// baseline server and the control plane, and removes the temporary folder.
func (e *environment) close() {
	if e.proc != nil {
		e.proc.Stop()
	}
	if e.baseline != nil {
		_ = e.baseline.Close()
	}
	if e.env != nil {
		if err := e.env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "webhookload: stop control plane:", err)
		}
	}
	_ = os.RemoveAll(e.tmp)
}

func checkMutates(url string, ca *x509.CertPool, review []byte) error {
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca}}}
	defer c.CloseIdleConnections()
	resp, err := c.Post(url, "application/json", bytes.NewReader(review))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return fmt.Errorf("status %d: %w", resp.StatusCode, err)
	}
	if out.Response == nil || !out.Response.Allowed || len(out.Response.Patch) == 0 {
		return fmt.Errorf("status %d: want an allowed response with a patch, got %+v", resp.StatusCode, out.Response)
	}
	return nil
}

// admissionReview is a full admission.k8s.io/v1 AdmissionReview creating
// obj in namespace default, as the API server sends it.
func admissionReview(obj []byte) ([]byte, error) {
	var meta struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	if err := json.Unmarshal(obj, &meta); err != nil {
		return nil, err
	}
	dryRun := false
	gvk := metav1.GroupVersionKind{Group: "ray.io", Version: "v1", Kind: "RayCluster"}
	gvr := metav1.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"}
	return json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID:  "0f6a3c5e-8a8e-4c39-9d6b-6f3c1f0b2a11",
			Kind: gvk, Resource: gvr, RequestKind: &gvk, RequestResource: &gvr,
			Name: meta.Metadata.Name, Namespace: "default", Operation: admissionv1.Create,
			Object:   runtime.RawExtension{Raw: obj},
			DryRun:   &dryRun,
			Options:  runtime.RawExtension{Raw: []byte(`{"apiVersion":"meta.k8s.io/v1","kind":"CreateOptions","fieldManager":"kubectl-client-side-apply"}`)},
			UserInfo: authenticationv1.UserInfo{Username: "kubernetes-admin", Groups: []string{"system:masters", "system:authenticated"}},
		},
	})
}
