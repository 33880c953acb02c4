package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"

	"github.com/raypilot/raypilot/internal/promscrape"
	"github.com/raypilot/raypilot/internal/testcp"
)

// TestShardedScalers: a second `raypilot scaler --sharding` next to the
// control plane's divides the clusters with it (each replica's
// raypilot_scaler_clusters > 0, their sum every managed cluster); killed
// with SIGKILL, its clusters are scaled by the first once its member Lease
// expires.
func TestShardedScalers(t *testing.T) {
	ns := namespace(t, "e2e-shards")
	const n = 10
	var names []string
	for i := range n {
		name := fmt.Sprintf("shard-%d", i)
		names = append(names, name)
		mustKubectl(t, twoGroupCluster(name, "60", "", ""), "apply", "-n", ns, "-f", "-")
	}
	for _, name := range names {
		startCluster(t, ns, name, twoGroupCluster(name, "60", "", ""))
	}

	second, metricsB := startSecondScaler(t)
	metricsA := fmt.Sprintf("http://127.0.0.1:%d/metrics", scalerMetricsPort(t))
	var mine []string // the second replica's clusters in ns
	eventually(t, 90*time.Second, "both replicas manage clusters, every managed cluster once", func() (bool, string) {
		a, b := gaugeValue(t, metricsA, "raypilot_scaler_clusters"), gaugeValue(t, metricsB, "raypilot_scaler_clusters")
		total := managedClusters(t)
		mine = scalerClustersIn(t, metricsB, ns)
		return a > 0 && b > 0 && a+b == total && len(mine) > 0,
			fmt.Sprintf("first %d, second %d (%v in %s), managed %d", a, b, mine, ns, total)
	})
	if a, b := gaugeValue(t, metricsA, "raypilot_scaler_shard_members"), gaugeValue(t, metricsB, "raypilot_scaler_shard_members"); a != 2 || b != 2 {
		t.Errorf("raypilot_scaler_shard_members: first %d, second %d; want 2 and 2", a, b)
	}
	t.Logf("the second replica manages %v of %s", mine, ns)

	if err := second.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = second.Wait()
	killed := time.Now()
	// raysim keeps a cluster's actors by namespace and name, past the
	// RayCluster's deletion: a name of this run's own.
	actor := fmt.Sprintf("after-kill-%d", killed.UnixNano())
	for _, name := range mine {
		raysimPostActor(t, ns, name, raysimActorSpec{Name: actor, Resources: map[string]float64{"CPU": 1}})
	}
	for _, name := range mine {
		eventually(t, 60*time.Second, name+" scaled up by the remaining replica", func() (bool, string) {
			r := groupReplicas(t, ns, name)
			return r["plain"] == 1, fmt.Sprint(r)
		})
	}
	t.Logf("the killed replica's %d clusters scaled up by the other %s after SIGKILL (lease duration 10 s)", len(mine), time.Since(killed).Round(100*time.Millisecond))
	eventually(t, 30*time.Second, "the first replica manages every cluster", func() (bool, string) {
		a, total := gaugeValue(t, metricsA, "raypilot_scaler_clusters"), managedClusters(t)
		return a == total, fmt.Sprintf("first %d, managed %d", a, total)
	})
}

// startSecondScaler starts the control plane's raypilot binary as a second
// scaler with the first one's flags (hack/local-cluster.sh) but its own
// listeners, and returns it and its metrics URL. It is killed when the test
// ends.
func startSecondScaler(t *testing.T) (*exec.Cmd, string) {
	t.Helper()
	dir := clusterDir(t)
	policy := settingsValue(t, "policy")
	ports, err := testcp.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	metricsPort, healthPort := ports[0], ports[1]
	logFile, err := os.Create(filepath.Join(t.TempDir(), "scaler-2.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(dir, "raypilot"), "scaler", "--kubeconfig", filepath.Join(dir, "scaler.kubeconfig"),
		"--policy", policy, "--sharding", "--leader-elect-resource-namespace", "raypilot-system",
		"--gcs-proxy-address", raysimGRPCAddress(t), "--gcs-drain-timeout", "5s",
		"--metrics-bind-address", fmt.Sprintf("127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address", fmt.Sprintf("127.0.0.1:%d", healthPort))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = logFile.Close()
		if t.Failed() {
			if data, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("second scaler's log:\n%s", data)
			}
		}
	})
	return cmd, fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
}

// settingsValue is a value the control plane recorded in settings.env.
func settingsValue(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("bash", "-c", `source "$1" && printf %s "${!2}"`, "_", filepath.Join(clusterDir(t), "settings.env"), key).Output()
	if err != nil || len(out) == 0 {
		t.Fatalf("%s from settings.env: %v %q", key, err, out)
	}
	return string(out)
}

// gaugeValue is an unlabelled gauge's value on a metrics endpoint, 0 when
// the endpoint is not up yet or lacks it.
func gaugeValue(t *testing.T, url, name string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	f := scrapeMetrics(t, url)[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return 0
	}
	return int(f.GetMetric()[0].GetGauge().GetValue())
}

// scalerClustersIn are the clusters of ns a scaler manages: those with
// per-group series on its metrics endpoint.
func scalerClustersIn(t *testing.T, url, ns string) []string {
	t.Helper()
	f := scrapeMetrics(t, url)["raypilot_scaler_workers_max"]
	seen := map[string]bool{}
	var out []string
	for _, m := range f.GetMetric() {
		l := promscrape.Labels(m)
		if l["namespace"] == ns && !seen[l["cluster"]] {
			seen[l["cluster"]] = true
			out = append(out, l["cluster"])
		}
	}
	return out
}

// managedClusters counts the RayClusters of the control plane the scaler
// manages (annotated central, not being deleted).
func managedClusters(t *testing.T) int {
	t.Helper()
	n := 0
	for _, rc := range decode[rayv1.RayClusterList](t, mustKubectl(t, "", "get", "rayclusters", "-A", "-o", "json")).Items {
		if rc.Annotations["raypilot.io/autoscaling"] == "central" && rc.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}
