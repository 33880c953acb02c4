package e2e

// Chaos tests: components of the local control plane are killed, restarted
// or cut off while raypilot works. Each scenario asserts
// the "nothing lost" property it names. They stop and start processes of
// the shared control plane, so they never run in parallel with other tests.
//
// Together they take 10 to 15 minutes on 2 cores, more than the e2e tier
// of `make test` can add, so they run only with RAYPILOT_CHAOS=1:
//
//	RAYPILOT_CHAOS=1 RAYPILOT_TOOLS_BIN=$(hack/tools.sh bin-dir) go test ./e2e -run TestChaos -timeout 40m
//
// RAYPILOT_CHAOS_ITERATIONS overrides the repetitions of each scenario,
// RAYPILOT_CHAOS_GCS_OUTAGE the GCS outage of scenario 2.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// chaos skips the test unless RAYPILOT_CHAOS is set.
func chaos(t *testing.T) {
	t.Helper()
	if os.Getenv("RAYPILOT_CHAOS") == "" {
		t.Skip("chaos scenario: set RAYPILOT_CHAOS=1 to run it (make chaos)")
	}
}

// localCluster runs hack/local-cluster.sh with args (stop, start, restart
// COMPONENT) and fails the test when it fails.
func localCluster(t *testing.T, args ...string) {
	t.Helper()
	if err := runLocalCluster(args...); err != nil {
		t.Fatal(err)
	}
}

// runLocalCluster runs hack/local-cluster.sh with args.
func runLocalCluster(args ...string) error {
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "local-cluster.sh"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("hack/local-cluster.sh %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// clusterDir is the control plane's state folder (PID files, logs).
func clusterDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(filepath.Join(repoRoot, "hack", "local-cluster.sh"), "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Dir(strings.TrimSpace(string(out)))
}

// componentPID is the PID of a running component, from its PID file.
func componentPID(t *testing.T, name string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(clusterDir(t), "pids", name))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatalf("PID file of %s: %v", name, err)
	}
	return pid
}

// alive reports whether a process with pid exists.
func alive(pid int) bool {
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// keepRunning makes sure the components run again when the test ends, even
// after a failure half-way through a fault: later tests need them.
func keepRunning(t *testing.T, components ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, c := range components {
			cmd := exec.Command(filepath.Join(repoRoot, "hack", "local-cluster.sh"), "start", c)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("restoring %s: %v\n%s", c, err, out)
			}
		}
	})
}

// logSince returns what a component logged after offset bytes, and the
// log's current size.
func logSince(t *testing.T, component string, offset int64) (string, int64) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(clusterDir(t), "logs", component+".log"))
	if err != nil {
		t.Fatal(err)
	}
	if offset > int64(len(data)) {
		offset = 0
	}
	return string(data[offset:]), int64(len(data))
}

// restConfig is a client configuration for the control plane, allowed to
// send a burst of requests.
func restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 200, 400
	cfg.Timeout = 30 * time.Second
	return cfg
}

// iterations is how often each chaos scenario repeats: RAYPILOT_CHAOS_ITERATIONS,
// default def.
func iterations(t *testing.T, def int) int {
	t.Helper()
	if v := os.Getenv("RAYPILOT_CHAOS_ITERATIONS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("RAYPILOT_CHAOS_ITERATIONS=%q: want a positive number", v)
		}
		return n
	}
	return def
}

// seedPods posts n actors of {CPU: 2} (one 2-CPU worker each) to the
// cluster and waits until n workers run with every actor placed.
func seedActors(t *testing.T, ns string, n int) {
	t.Helper()
	base := "/v1/clusters/" + ns + "/test-cluster"
	for i := range n {
		mustRaysim(t, "POST", base+"/actors", map[string]any{"name": fmt.Sprintf("a%d", i), "resources": map[string]float64{"CPU": 2}})
	}
	eventually(t, 60*time.Second, fmt.Sprintf("%d workers Running with every actor placed", n), func() (bool, string) {
		ws := running(pods(t, ns, "test-cluster"), "worker")
		st := clusterState(t, ns, "test-cluster")
		return len(ws) == n && replicas(workerGroup(t, ns)) == int32(n) && len(st.PendingResourceRequests) == 0,
			fmt.Sprintf("%d workers, replicas %d, %d pending", len(ws), replicas(workerGroup(t, ns)), len(st.PendingResourceRequests))
	})
}

// nodeStatus is the Ray node status raysim reports for a pod ("" if none).
func nodeStatus(t *testing.T, ns, pod string) string {
	t.Helper()
	for _, n := range clusterState(t, ns, "test-cluster").NodeStates {
		if n.InstanceID == pod {
			return n.Status
		}
	}
	return ""
}

func workerNames(t *testing.T, ns string) []string {
	t.Helper()
	var out []string
	for _, p := range pods(t, ns, "test-cluster") {
		if p.Labels["ray.io/node-type"] == "worker" {
			out = append(out, p.Name)
		}
	}
	return out
}

// chaosRun tells this run's namespaces from those of an earlier run that
// may still be terminating.
var chaosRun = strconv.FormatInt(time.Now().Unix()%(36*36*36), 36)

// chaosNamespace names the namespace of one iteration of a scenario.
func chaosNamespace(scenario string, i int) string {
	return fmt.Sprintf("chaos-%s-%s-%d", scenario, chaosRun, i)
}

// watching waits until a watch from watchLines printed the object's
// first version: from then on it sees every change.
func watching(t *testing.T, versions func() []string) {
	t.Helper()
	eventually(t, 10*time.Second, "the watch started", func() (bool, string) { return len(versions()) > 0, "" })
}
