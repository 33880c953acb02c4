// Package chart tests charts/raypilot with real tools: Helm v3 from
// $RAYPILOT_TOOLS_BIN renders, lints and installs it; a real kube-apiserver
// and etcd (controller-runtime envtest, the same binaries) accept the
// rendered manifests with `kubectl apply --dry-run=server`, evaluate the
// chart's RBAC for its ServiceAccounts, and hold a real release through
// install, upgrade and uninstall. cert-manager's Issuer/Certificate CRDs and
// the Prometheus operator's ServiceMonitor and PrometheusRule CRDs come from
// their Go modules
// (fetched with `go mod download`, versions below) so the optional objects
// are validated by their real schemas.
package chart

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	crlog "sigs.k8s.io/controller-runtime/pkg/log"
)

// Modules holding the third-party CRDs the optional templates need.
const (
	certManagerModule        = "github.com/cert-manager/cert-manager@v1.21.2"
	prometheusOperatorModule = "github.com/prometheus-operator/prometheus-operator@v0.85.0"
)

// releaseNamespace is where every test renders and installs the chart.
const releaseNamespace = "raypilot"

var (
	toolsBin   string
	chartDir   string
	repoRoot   string
	kubeconfig string
	helmHome   string
	// clientset is an admin client, for SubjectAccessReviews.
	clientset *kubernetes.Clientset
)

func TestMain(m *testing.M) {
	toolsBin = os.Getenv("RAYPILOT_TOOLS_BIN")
	if toolsBin == "" {
		fmt.Println("chart: RAYPILOT_TOOLS_BIN is not set; `make test` builds the tools (helm, etcd, kube-apiserver, kubectl) and sets it. Skipping.")
		os.Exit(0)
	}
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chart:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	wd, err := os.Getwd()
	if err != nil {
		return 0, err
	}
	repoRoot = filepath.Join(wd, "..", "..")
	chartDir = filepath.Join(repoRoot, "charts", "raypilot")
	tmp, err := os.MkdirTemp("", "raypilot-chart-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	// Helm keeps its cache, config and data here, not in the user's home.
	helmHome = filepath.Join(tmp, "helm")

	certManager, err := moduleDir(certManagerModule)
	if err != nil {
		return 0, err
	}
	promOperator, err := moduleDir(prometheusOperatorModule)
	if err != nil {
		return 0, err
	}
	kuberay, err := goListDir("github.com/ray-project/kuberay/ray-operator")
	if err != nil {
		return 0, err
	}
	// envtest logs through controller-runtime; the tests report for themselves.
	crlog.SetLogger(logr.Discard())
	env := &envtest.Environment{
		BinaryAssetsDirectory: toolsBin,
		// The chart's own CRDs are not installed: the dry run must create
		// them, and the install test has Helm install them.
		CRDInstallOptions: envtest.CRDInstallOptions{Paths: []string{
			filepath.Join(kuberay, "config", "crd", "bases"),
			filepath.Join(certManager, "deploy", "crds", "cert-manager.io_issuers.yaml"),
			filepath.Join(certManager, "deploy", "crds", "cert-manager.io_certificates.yaml"),
			filepath.Join(promOperator, "example", "prometheus-operator-crd", "monitoring.coreos.com_servicemonitors.yaml"),
			filepath.Join(promOperator, "example", "prometheus-operator-crd", "monitoring.coreos.com_prometheusrules.yaml"),
		},
			// cert-manager's Issuer CRD alone is 330 kB; on a busy machine
			// the default 10 s is not enough for them to be served.
			MaxTime: 2 * time.Minute},
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: 90 * time.Second,
	}
	cfg, err := env.Start()
	if err != nil {
		// A start that failed late (e.g. installing CRDs) leaves etcd and
		// kube-apiserver running: stop them.
		_ = env.Stop()
		return 0, fmt.Errorf("start control plane: %w", err)
	}
	defer func() { _ = env.Stop() }()
	if clientset, err = kubernetes.NewForConfig(cfg); err != nil {
		return 0, err
	}
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
	if out, err := kubectl(nil, "create", "namespace", releaseNamespace); err != nil {
		return 0, fmt.Errorf("create namespace: %w: %s", err, out)
	}
	return m.Run(), nil
}

// moduleDir downloads (or finds in the module cache) mod@version and returns
// its directory. It runs outside the repository so go.mod is not touched.
func moduleDir(modVersion string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", modVersion)
	cmd.Dir = os.TempDir()
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GO111MODULE=on")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w: %s", modVersion, err, out)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %w", modVersion, err)
	}
	if info.Error != "" || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: %s", modVersion, info.Error)
	}
	return info.Dir, nil
}

// goListDir is the directory of a module the repository requires.
func goListDir(mod string) (string, error) {
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", mod)
	cmd.Dir = repoRoot
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	return strings.TrimSpace(string(out)), nil
}

// helm runs the pinned Helm with an isolated home and the test kubeconfig.
func helm(args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(toolsBin, "helm"), args...)
	cmd.Env = append(os.Environ(),
		"KUBECONFIG="+kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), fmt.Errorf("helm %s: %w", strings.Join(args, " "), err)
	}
	return stdout.String(), nil
}

// kubectl runs the pinned kubectl against the test control plane with stdin.
func kubectl(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(toolsBin, "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
