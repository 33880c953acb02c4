// Package integration runs raypilot's webhook for real: etcd and
// kube-apiserver built by hack/tools.sh, the KubeRay v1.5.0 CRDs and
// raypilot's CRDs installed, the webhook serving TLS and registered through
// Mutating/ValidatingWebhookConfigurations, and kubectl as the client.
package integration

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/raypilot/raypilot/internal/certs"
	"github.com/raypilot/raypilot/internal/testcp"
	"github.com/raypilot/raypilot/webhook"
)

// env is the shared control plane; kubeconfig is an admin kubeconfig file.
var (
	env         *envtest.Environment
	kubeconfig  string
	repoRoot    string
	webhookAddr string
	certDir     string
)

func TestMain(m *testing.M) {
	bin := os.Getenv("RAYPILOT_TOOLS_BIN")
	if bin == "" {
		fmt.Println("integration: RAYPILOT_TOOLS_BIN is not set; `make test` builds the tools and sets it. Skipping.")
		os.Exit(0)
	}
	code, err := run(m, bin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M, bin string) (int, error) {
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")
	kuberay, err := moduleDir("github.com/ray-project/kuberay/ray-operator")
	if err != nil {
		return 0, err
	}
	env = &envtest.Environment{
		BinaryAssetsDirectory: bin,
		CRDDirectoryPaths: []string{
			filepath.Join(kuberay, "config", "crd", "bases"),
			filepath.Join(repoRoot, "charts", "raypilot", "crds"),
		},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
		// envtest's 10 s default for CRDs to be served is short on a
		// loaded 2-core machine.
		CRDInstallOptions: envtest.CRDInstallOptions{MaxTime: 90 * time.Second},
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop() // a failed start can leave etcd and kube-apiserver running
		return 0, fmt.Errorf("start control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()

	tmp, err := os.MkdirTemp("", "raypilot-integration-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return 0, err
	}
	kc, err := user.KubeConfig()
	if err != nil {
		return 0, err
	}
	kubeconfig = filepath.Join(tmp, "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		return 0, err
	}

	// Serving certificate for 127.0.0.1, trusted through the CA bundle.
	bundle, err := certs.Generate([]string{"127.0.0.1", "localhost"}, 24*time.Hour, time.Now())
	if err != nil {
		return 0, err
	}
	certDir = filepath.Join(tmp, "certs")
	if err := bundle.WriteDir(certDir); err != nil {
		return 0, err
	}

	log, _ := zap.NewDevelopment(zap.IncreaseLevel(zap.WarnLevel))
	shared, err := runInstance("shared", cfg, webhook.Options{CertDir: certDir}, log)
	if err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	defer shared.stop()
	webhookAddr = shared.addr
	if err := testcp.WaitReady(context.Background(), shared.health+"/readyz", 60*time.Second, shared.exited()); err != nil {
		return 0, fmt.Errorf("webhook: %w", err)
	}
	if err := registerWebhooks(shared.port, bundle.CACert); err != nil {
		return 0, err
	}
	if err := waitWebhookActive(); err != nil {
		return 0, err
	}
	code := m.Run()
	shared.stop()
	if shared.err != nil {
		return code, fmt.Errorf("webhook: %w", shared.err)
	}
	return code, nil
}

func moduleDir(mod string) (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// registerWebhooks installs the webhook configurations the local control
// plane uses (hack/local-cluster/webhook.yaml: one source for both), with
// this test's port and CA bundle.
func registerWebhooks(port int, ca []byte) error {
	tmpl, err := os.ReadFile(filepath.Join(repoRoot, "hack", "local-cluster", "webhook.yaml"))
	if err != nil {
		return err
	}
	doc := strings.NewReplacer("${WEBHOOK_PORT}", strconv.Itoa(port), "${CA_BUNDLE}", base64.StdEncoding.EncodeToString(ca)).Replace(string(tmpl))
	if _, errOut, err := kubectlIn(doc, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("apply webhook configurations: %v: %s", err, errOut)
	}
	return nil
}

// waitWebhookActive waits until the API server calls the webhook: a
// server-side dry run of a compact cluster comes back expanded.
func waitWebhookActive() error {
	probe := `{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"probe"},"spec":{"rayVersion":"2.9.0","headGroupSpec":{"template":{}}}}`
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		out, _, err := kubectlIn(probe, "apply", "--dry-run=server", "-o", "json", "-f", "-")
		if err == nil && strings.Contains(out, "ray-head") {
			return nil
		}
		time.Sleep(300 * time.Millisecond)
	}
	return fmt.Errorf("webhook configuration not active after 30s")
}

// kubectl runs the pinned kubectl against the test control plane.
func kubectl(args ...string) (stdout, stderr string, err error) { return kubectlIn("", args...) }

func kubectlIn(stdin string, args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command(filepath.Join(os.Getenv("RAYPILOT_TOOLS_BIN"), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func readFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	return string(data), err
}
