// Package e2e runs raypilot on the local control plane (hack/local-cluster.sh):
// real kube-apiserver, controller-manager and scheduler, kwok nodes, the real
// KubeRay operator, and the webhook as a host process.
package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/testcp"
)

var (
	repoRoot   string
	kubectlBin string
	kubeconfig string
)

func TestMain(m *testing.M) {
	if os.Getenv("RAYPILOT_TOOLS_BIN") == "" {
		fmt.Println("e2e: RAYPILOT_TOOLS_BIN is not set; `make test` builds the tools and sets it. Skipping.")
		os.Exit(0)
	}
	wd, _ := os.Getwd()
	repoRoot = filepath.Join(wd, "..")
	script := filepath.Join(repoRoot, "hack", "local-cluster.sh")
	envOut, err := exec.Command(script, "env").Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	_, statErr := os.Stat(strings.TrimSpace(string(envOut)))
	wasRunning := statErr == nil
	up := exec.Command(script, "up")
	up.Stderr = os.Stderr
	out, err := up.Output()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: hack/local-cluster.sh up:", err)
		os.Exit(1)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	err = readEnvFile(lines[len(lines)-1])
	if err == nil {
		err = readRaysimURL(lines[len(lines)-1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	code := m.Run()
	// Leave a cluster someone else started (make demo) running.
	if !wasRunning {
		down := exec.Command(script, "down")
		down.Stdout, down.Stderr = os.Stderr, os.Stderr
		if err := down.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: down:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// readEnvFile takes KUBECONFIG and the kubectl on PATH from the env file,
// the contract other tools rely on.
func readEnvFile(path string) error {
	out, err := exec.Command("bash", "-c", `source "$1" && echo "$KUBECONFIG" && command -v kubectl`, "_", path).Output()
	if err != nil {
		return fmt.Errorf("source %s: %w", path, err)
	}
	parts := strings.Fields(string(out))
	if len(parts) != 2 {
		return fmt.Errorf("env file %s gave %q", path, out)
	}
	kubeconfig, kubectlBin = parts[0], parts[1]
	return nil
}

func kubectl(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(kubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := kubectl(t, stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

// namespace creates a namespace for one test, with the seed's compute
// template and ConfigMap in it, and deletes it at the end.
func namespace(t *testing.T, name string) string {
	t.Helper()
	mustKubectl(t, "", "create", "namespace", name)
	t.Cleanup(func() { _, _, _ = kubectl(t, "", "delete", "namespace", name, "--wait=false") })
	mustKubectl(t, "", "apply", "-n", name, "-f", filepath.Join(repoRoot, "examples", "compute-template.yaml"))
	mustKubectl(t, "", "apply", "-n", name, "-f", filepath.Join(repoRoot, "examples", "ray-example-configmap.yaml"))
	return name
}

// eventually polls cond every 250 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testcp.Eventually(t, timeout, what, cond)
}

func decode[T any](t *testing.T, data string) T {
	t.Helper()
	return testcp.DecodeJSON[T](t, data)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// watchLines streams `kubectl get -w -o jsonpath=TEMPLATE` of one object and
// returns a function giving the lines seen so far; the watch ends with the
// test. It sees every version, even ones that last only milliseconds.
func watchLines(t *testing.T, ns, resource, name, template string) func() []string {
	t.Helper()
	cmd := exec.Command(kubectlBin, "--kubeconfig", kubeconfig, "get", resource, name, "-n", ns, "-w", "-o", "jsonpath="+template+"\n")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), lines...)
	}
}
