// Package pods is the real-node e2e tier: raypilot's chart installed with
// its defaults by `hack/local-cluster.sh up --pods`, its webhook and scaler
// running as pods of the image hack/image builds, on a real kubelet
// (containerd, runc, CNI bridge) with kube-proxy; the API server calls the
// webhook through its Service, the scaler uses in-cluster config and its
// projected ServiceAccount token. Ray pods still run on kwok's fake nodes
// and raysim still plays Ray's GCS.
//
// Opt in with RAYPILOT_PODS_E2E=1 (make test-pods); it needs root. Without
// RAYPILOT_CLUSTER_DIR it uses its own state folder and ports, so it never
// meets the control plane of the e2e package.
package pods

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/testcp"
)

var (
	repoRoot   string
	toolsBin   string
	kubeconfig string
	raysimURL  string
	containerd string // containerd's socket
)

// Defaults for this tier's own control plane (hack/local-cluster.sh reads them).
var ownCluster = map[string]string{
	"RAYPILOT_ETCD_PORT":             "33790",
	"RAYPILOT_APISERVER_PORT":        "36443",
	"RAYPILOT_WEBHOOK_PORT":          "39443",
	"RAYPILOT_RAYSIM_GRPC_PORT":      "36379",
	"RAYPILOT_RAYSIM_HTTP_PORT":      "38265",
	"RAYPILOT_RAYSIM_DASHBOARD_PORT": "38266",
}

func TestMain(m *testing.M) {
	if os.Getenv("RAYPILOT_PODS_E2E") == "" {
		fmt.Println("e2e/pods: set RAYPILOT_PODS_E2E=1 to run the real-node tier (make test-pods; needs root). Skipping.")
		os.Exit(0)
	}
	if os.Geteuid() != 0 {
		msg := "e2e/pods: the real node needs root (kubelet, containerd, iptables)"
		if os.Getenv("CI") != "" {
			fmt.Fprintln(os.Stderr, msg)
			os.Exit(1)
		}
		fmt.Println(msg + ". Skipping.")
		os.Exit(0)
	}
	if os.Getenv("RAYPILOT_CLUSTER_DIR") == "" {
		home, _ := os.UserHomeDir()
		os.Setenv("RAYPILOT_CLUSTER_DIR", filepath.Join(home, ".cache", "raypilot", "pods-cluster"))
		for k, v := range ownCluster {
			if os.Getenv(k) == "" {
				os.Setenv(k, v)
			}
		}
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..", "..")
	script := filepath.Join(repoRoot, "hack", "local-cluster.sh")
	envOut, err := exec.Command(script, "env").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/pods:", err)
		os.Exit(1)
	}
	_, statErr := os.Stat(strings.TrimSpace(string(envOut)))
	wasRunning := statErr == nil
	start := time.Now()
	up := exec.Command(script, "up", "--pods")
	up.Stderr = os.Stderr
	out, err := up.Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/pods: hack/local-cluster.sh up --pods:", err)
		if !wasRunning {
			down(script)
		}
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "e2e/pods: up --pods took %s\n", time.Since(start).Round(time.Second))
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if err := readEnv(lines[len(lines)-1]); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/pods:", err)
		os.Exit(1)
	}
	code := m.Run()
	if !wasRunning && !down(script) {
		code = 1
	}
	os.Exit(code)
}

func down(script string) bool {
	d := exec.Command(script, "down")
	d.Stdout, d.Stderr = os.Stderr, os.Stderr
	if err := d.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/pods: down:", err)
		return false
	}
	return true
}

// readEnv takes what the tier needs from the env file `up --pods` wrote.
func readEnv(path string) error {
	out, err := exec.Command("bash", "-c", `source "$1" && printf '%s\n' "$KUBECONFIG" "$(dirname "$(command -v kubectl)")" "$RAYSIM_URL" "$RAYPILOT_CONTAINERD_ADDRESS" "$RAYPILOT_PODS"`, "_", path).Output()
	if err != nil {
		return fmt.Errorf("source %s: %w", path, err)
	}
	v := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(v) != 5 || v[4] != "1" {
		return fmt.Errorf("env file %s is not from up --pods: %q", path, out)
	}
	kubeconfig, toolsBin, raysimURL, containerd = v[0], v[1], v[2], v[3]
	return nil
}

func run(t *testing.T, stdin, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func kubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := run(t, stdin, filepath.Join(toolsBin, "kubectl"), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(t, "", filepath.Join(toolsBin, "helm"), args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testcp.Eventually(t, timeout, what, cond)
}

func decode[T any](t *testing.T, data string) T {
	t.Helper()
	return testcp.DecodeJSON[T](t, data)
}

// namespace creates a namespace with the seed's compute template and
// ConfigMap, deleted at the end of the test.
func namespace(t *testing.T, name string) string {
	t.Helper()
	kubectl(t, "", "create", "namespace", name)
	t.Cleanup(func() {
		_, _ = run(t, "", filepath.Join(toolsBin, "kubectl"), "delete", "namespace", name, "--wait=false")
	})
	kubectl(t, "", "apply", "-n", name, "-f", filepath.Join(repoRoot, "examples", "compute-template.yaml"))
	kubectl(t, "", "apply", "-n", name, "-f", filepath.Join(repoRoot, "examples", "ray-example-configmap.yaml"))
	return name
}
