package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
)

func getRayCluster(t *testing.T, ns, name string) rayv1.RayCluster {
	t.Helper()
	return decode[rayv1.RayCluster](t, mustKubectl(t, "", "get", "raycluster", name, "-n", ns, "-o", "json"))
}

func workerGroup(t *testing.T, ns string) rayv1.WorkerGroupSpec {
	t.Helper()
	rc := getRayCluster(t, ns, "test-cluster")
	if len(rc.Spec.WorkerGroupSpecs) != 1 {
		t.Fatalf("worker groups: %d", len(rc.Spec.WorkerGroupSpecs))
	}
	return rc.Spec.WorkerGroupSpecs[0]
}

func replicas(g rayv1.WorkerGroupSpec) int32 {
	if g.Replicas == nil {
		return -1
	}
	return *g.Replicas
}

func eventReasons(t *testing.T, ns string) []string {
	t.Helper()
	out := mustKubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=RayCluster", "-o", "json")
	var reasons []string
	for _, e := range decode[corev1.EventList](t, out).Items {
		reasons = append(reasons, e.Reason+": "+e.Message)
	}
	return reasons
}

func hasEvent(reasons []string, prefix string) bool {
	return slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, prefix) })
}

// scalerRounds is how many rounds the scaler completed on a cluster: its
// reads of the cluster's simulated GCS (the state version, which each
// GetClusterResourceState increments) but the last, whose round may still
// be running. Reports do not count rounds: the scaler reports only what
// changed (and every 30 s).
func scalerRounds(t *testing.T, ns, name string) int {
	t.Helper()
	return max(int(raysimGCSCounters(t, ns, name).StateVersion)-1, 0)
}

// steadyWhileScaling checks cond every 500 ms, failing at the first miss,
// for at least d and until the scaler has completed at least rounds more
// rounds on cluster ns/name: the state stays because the scaler, running,
// leaves it, not because the scaler stalled. Each check comes after the
// rounds it counts (a round's patch precedes the next read), and the scaler
// runs a round a second, so a minute past d without them is a stall.
func steadyWhileScaling(t *testing.T, ns, name string, d time.Duration, rounds int, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	from := scalerRounds(t, ns, name)
	for {
		done := scalerRounds(t, ns, name) - from
		if ok, state := cond(); !ok {
			t.Fatalf("%s: no longer so %s into the window (after %d scaler rounds): %s", what, time.Since(start).Round(100*time.Millisecond), done, state)
		}
		elapsed := time.Since(start)
		if elapsed >= d && done >= rounds {
			t.Logf("%s: held for %s, over %d scaler rounds", what, elapsed.Round(100*time.Millisecond), done)
			return
		}
		if elapsed > d+time.Minute {
			t.Fatalf("%s: the scaler completed %d rounds on %s/%s in %s, want %d: stalled", what, done, ns, name, elapsed.Round(time.Second), rounds)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// startSeedCluster applies the seed's cluster (with idleTimeoutSeconds
// replaced when idle is not empty) and waits for its head.
func startSeedCluster(t *testing.T, ns, idle string) {
	t.Helper()
	cluster := readExample(t, "raycluster.yaml")
	if idle != "" {
		cluster = strings.Replace(cluster, "idleTimeoutSeconds: 30", "idleTimeoutSeconds: "+idle, 1)
	}
	mustKubectl(t, cluster, "apply", "-n", ns, "-f", "-")
	eventually(t, 60*time.Second, "head Running, no worker", func() (bool, string) {
		ps := pods(t, ns, "test-cluster")
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 0, summary(ps)
	})
	rc := getRayCluster(t, ns, "test-cluster")
	if rc.Annotations["raypilot.io/autoscaling"] != "central" || rc.Spec.EnableInTreeAutoscaling == nil || *rc.Spec.EnableInTreeAutoscaling {
		t.Fatalf("cluster not handed to the central scaler: annotations %v", rc.Annotations)
	}
}

// The seed end to end: an actor needing {CPU: 1} brings a worker; once the
// actor is gone and the worker idle for idleTimeoutSeconds (30), Ray drains
// it, the pod is listed in workersToDelete, replicas goes to 0, KubeRay
// deletes the pod and the list is cleared.
func TestSeedScaleUpAndDown(t *testing.T) {
	ns := namespace(t, "e2e-seed")
	startSeedCluster(t, ns, "")
	base := "/v1/clusters/" + ns + "/test-cluster"

	posted := time.Now()
	mustRaysim(t, "POST", base+"/actors", map[string]any{"name": "actor1", "resources": map[string]float64{"CPU": 1}})
	var worker corev1.Pod
	eventually(t, 10*time.Second, "small-wg replicas 1 and a worker Running", func() (bool, string) {
		ws := running(pods(t, ns, "test-cluster"), "worker")
		if len(ws) == 1 && replicas(workerGroup(t, ns)) == 1 {
			worker = ws[0]
			return true, ""
		}
		return false, fmt.Sprint(len(ws), " workers")
	})
	t.Logf("reaction: actor posted → replicas 1 and worker Running in %s", time.Since(posted).Round(10*time.Millisecond))
	eventually(t, 10*time.Second, "actor placed on the worker", func() (bool, string) {
		st := clusterState(t, ns, "test-cluster")
		for _, n := range st.NodeStates {
			if n.InstanceID == worker.Name && n.AvailableResources["CPU"] == n.TotalResources["CPU"]-1 {
				return len(st.PendingResourceRequests) == 0, "pending left"
			}
		}
		return false, fmt.Sprintf("%+v", st)
	})

	// Every version of the group's scaling fields, however short-lived.
	versions := watchLines(t, ns, "raycluster", "test-cluster",
		`{.spec.workerGroupSpecs[0].replicas} {.spec.workerGroupSpecs[0].scaleStrategy.workersToDelete}`)
	mustRaysim(t, "DELETE", base+"/actors/actor1", nil)
	freed := time.Now()
	listed := fmt.Sprintf(`0 ["%s"]`, worker.Name)
	eventually(t, 60*time.Second, "worker drained, listed in workersToDelete with replicas 0", func() (bool, string) {
		return slices.Contains(versions(), listed), strings.Join(versions(), " | ")
	})
	if idle := time.Since(freed); idle < 30*time.Second {
		t.Errorf("worker removed after %s idle, before idleTimeoutSeconds (30s)", idle)
	}
	eventually(t, 30*time.Second, "KubeRay deleted the worker and the list was cleared", func() (bool, string) {
		g := workerGroup(t, ns)
		ws := running(pods(t, ns, "test-cluster"), "worker")
		return len(ws) == 0 && len(g.ScaleStrategy.WorkersToDelete) == 0, fmt.Sprint(len(ws), " workers, list ", g.ScaleStrategy.WorkersToDelete)
	})
	// Ray drained the node before the pod was listed: its node went DEAD.
	t.Logf("versions after the actor left: %s", strings.Join(versions(), " | "))
	reasons := eventReasons(t, ns)
	for _, want := range []string{"ScaledUp: small-wg 0→1", "ScaledDown: small-wg 1→0"} {
		if !hasEvent(reasons, want) {
			t.Errorf("no event %q in %q", want, reasons)
		}
	}
}

// A node that holds an actor is never drained, however long it lives.
func TestBusyNodeIsNeverDrained(t *testing.T) {
	ns := namespace(t, "e2e-busy")
	startSeedCluster(t, ns, "2")
	base := "/v1/clusters/" + ns + "/test-cluster"
	mustRaysim(t, "POST", base+"/actors", map[string]any{"name": "keeper", "resources": map[string]float64{"CPU": 1}})
	eventually(t, 15*time.Second, "a worker for the actor", func() (bool, string) {
		return len(running(pods(t, ns, "test-cluster"), "worker")) == 1, ""
	})
	// Many idle timeouts (2 s) pass, each seen by rounds of the scaler;
	// the busy node must stay.
	steadyWhileScaling(t, ns, "test-cluster", 12*time.Second, 6, "busy worker kept", func() (bool, string) {
		g := workerGroup(t, ns)
		return replicas(g) == 1 && len(g.ScaleStrategy.WorkersToDelete) == 0,
			fmt.Sprintf("replicas %d, workersToDelete %v", replicas(g), g.ScaleStrategy.WorkersToDelete)
	})
	if len(running(pods(t, ns, "test-cluster"), "worker")) != 1 {
		t.Fatal("busy worker gone")
	}
	// Once the actor is gone the same node goes after the 2 s timeout.
	mustRaysim(t, "DELETE", base+"/actors/keeper", nil)
	eventually(t, 30*time.Second, "idle worker removed", func() (bool, string) {
		return replicas(workerGroup(t, ns)) == 0, ""
	})
}

// Demand for 12 CPUs on 2-CPU workers with maxReplicas 5: exactly 5 workers,
// the rest reported infeasible (Event, and to Ray for `ray status`).
func TestDemandBeyondMaxIsInfeasible(t *testing.T) {
	ns := namespace(t, "e2e-infeasible")
	startSeedCluster(t, ns, "")
	base := "/v1/clusters/" + ns + "/test-cluster"
	mustRaysim(t, "POST", base+"/tasks", map[string]any{"resources": map[string]float64{"CPU": 1}, "count": 12, "durationSeconds": 600})
	eventually(t, 30*time.Second, "5 workers Running", func() (bool, string) {
		ws := running(pods(t, ns, "test-cluster"), "worker")
		return len(ws) == 5 && replicas(workerGroup(t, ns)) == 5, fmt.Sprint(len(ws), " workers")
	})
	eventually(t, 15*time.Second, "Infeasible event and infeasible requests reported to Ray", func() (bool, string) {
		reasons := eventReasons(t, ns)
		st := decode[struct {
			Infeasible []json.RawMessage `json:"infeasibleResourceRequests"`
		}](t, string(mustRaysim(t, "GET", base+"/autoscaling-state", nil)))
		return hasEvent(reasons, "Infeasible:") && len(st.Infeasible) == 2, fmt.Sprint(reasons, len(st.Infeasible))
	})
	steadyWhileScaling(t, ns, "test-cluster", 3*time.Second, 2, "replicas stay at maxReplicas 5", func() (bool, string) {
		n := replicas(workerGroup(t, ns))
		return n == 5, fmt.Sprint("replicas ", n)
	})
}
