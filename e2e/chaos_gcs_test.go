package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// gcsOutage is how long each cluster's GCS stays unreachable:
// RAYPILOT_CHAOS_GCS_OUTAGE (a Go duration), default one minute, six times
// the clusters' idle timeout (10 s) and long enough for the scaler's
// back-off to reach its 30 s cap.
func gcsOutage(t *testing.T) time.Duration {
	t.Helper()
	if v := os.Getenv("RAYPILOT_CHAOS_GCS_OUTAGE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 20*time.Second {
			t.Fatalf("RAYPILOT_CHAOS_GCS_OUTAGE=%q: want a duration of at least 2 idle timeouts (20s)", v)
		}
		return d
	}
	return time.Minute
}

type raysimFault struct {
	Mode   string `json:"mode"`
	Failed int    `json:"failedCalls"`
}

// Scenario 2: the GCS of several clusters becomes unreachable right after
// their only worker went idle (idle timeout 10 s), for a minute, half of
// them stalling (a partition: calls hang until the scaler's 5 s timeout),
// half refusing (UNAVAILABLE at once, as a GCS process that is down).
// Nothing lost: no scale-down while the GCS cannot be read (the idle worker
// and its replica stay), a GCSUnreachable Warning says why, the scaler keeps
// trying, and once the GCS answers the idle worker is scaled down as usual.
// A control cluster whose GCS stays reachable scales down during the
// outage: one cluster's outage holds no other cluster. The clusters go
// through the phases together (four repetitions in one outage).
func TestChaosGCSUnreachableHoldsScaleDown(t *testing.T) {
	chaos(t)
	outage := gcsOutage(t)
	start := time.Now()
	type faulted struct {
		ns, mode, worker string
		versions         func() []string
		sawWarning       bool
		failed           int
	}
	var cs []*faulted
	for i, mode := range []string{"stall", "unavailable", "stall", "unavailable"} {
		cs = append(cs, &faulted{ns: chaosNamespace("gcs", i), mode: mode})
	}
	control := chaosNamespace("gcs-control", 0)
	all := append([]string{control}, nsOf(cs, func(c *faulted) string { return c.ns })...)
	for _, ns := range all {
		namespace(t, ns)
		mustKubectl(t, strings.Replace(readExample(t, "raycluster.yaml"), "idleTimeoutSeconds: 30", "idleTimeoutSeconds: 10", 1), "apply", "-n", ns, "-f", "-")
	}
	for _, ns := range all {
		startSeedCluster(t, ns, "10") // the same cluster again: waits for its head
		mustRaysim(t, "POST", "/v1/clusters/"+ns+"/test-cluster/actors", map[string]any{"name": "a0", "resources": map[string]float64{"CPU": 2}})
	}
	for _, ns := range all {
		eventually(t, 60*time.Second, ns+": a worker Running with the actor placed", func() (bool, string) {
			ws := running(pods(t, ns, "test-cluster"), "worker")
			return len(ws) == 1 && replicas(workerGroup(t, ns)) == 1 && len(clusterState(t, ns, "test-cluster").PendingResourceRequests) == 0,
				fmt.Sprint(len(ws), " workers")
		})
	}
	for _, c := range cs {
		c.worker = workerNames(t, c.ns)[0]
		c.versions = watchLines(t, c.ns, "raycluster", "test-cluster",
			`{.spec.workerGroupSpecs[0].replicas} {.spec.workerGroupSpecs[0].scaleStrategy.workersToDelete}`)
	}

	for _, c := range cs {
		watching(t, c.versions)
	}
	// The workers go idle; before their idle timeout passes, their GCS goes.
	for _, c := range cs {
		base := "/v1/clusters/" + c.ns + "/test-cluster"
		mustRaysim(t, "DELETE", base+"/actors/a0", nil)
		mustRaysim(t, "PUT", base+"/fault", map[string]any{"mode": c.mode})
		t.Cleanup(func() { raysim(t, "DELETE", base+"/fault", nil) })
	}
	cut := time.Now()
	mustRaysim(t, "DELETE", "/v1/clusters/"+control+"/test-cluster/actors/a0", nil)
	controlDown := time.Duration(0)
	for time.Since(cut) < outage {
		for _, c := range cs {
			g := workerGroup(t, c.ns)
			if replicas(g) != 1 || len(g.ScaleStrategy.WorkersToDelete) != 0 {
				t.Fatalf("%s (%s): scaled down %s into the outage: replicas %d, workersToDelete %v", c.ns, c.mode,
					time.Since(cut).Round(time.Second), replicas(g), g.ScaleStrategy.WorkersToDelete)
			}
			if s := nodeStatus(t, c.ns, c.worker); s != "IDLE" {
				t.Fatalf("%s: worker's Ray node %q during the outage, want IDLE (a drain got through?)", c.ns, s)
			}
			if !c.sawWarning {
				c.sawWarning = hasEvent(eventReasons(t, c.ns), "GCSUnreachable: holding scaling")
			}
		}
		if controlDown == 0 && replicas(workerGroup(t, control)) == 0 {
			controlDown = time.Since(cut)
		}
		time.Sleep(time.Second)
	}
	if controlDown == 0 {
		t.Errorf("the control cluster, whose GCS answered, did not scale down during the others' outage")
	}
	for _, c := range cs {
		if !c.sawWarning {
			t.Errorf("%s: no GCSUnreachable warning during the outage; events: %q", c.ns, eventReasons(t, c.ns))
		}
		var ft raysimFault
		if err := json.Unmarshal(mustRaysim(t, "GET", "/v1/clusters/"+c.ns+"/test-cluster/fault", nil), &ft); err != nil {
			t.Fatal(err)
		}
		c.failed = ft.Failed
		// The scaler backs off (up to 30 s) but keeps trying.
		if ft.Failed < 3 {
			t.Errorf("%s: only %d GCS calls during a %s outage: the scaler gave up?", c.ns, ft.Failed, outage)
		}
		for _, v := range c.versions() {
			if v != "1 " {
				t.Errorf("%s: a version of the worker group changed during the outage: %q", c.ns, v)
			}
		}
		mustRaysim(t, "DELETE", "/v1/clusters/"+c.ns+"/test-cluster/fault", nil)
	}
	healed := time.Now()

	// Normal service: the workers, idle for longer than their timeout, go.
	for _, c := range cs {
		eventually(t, 90*time.Second, c.ns+": the idle worker scaled down once the GCS answers", func() (bool, string) {
			g := workerGroup(t, c.ns)
			return replicas(g) == 0 && len(workerNames(t, c.ns)) == 0 && len(g.ScaleStrategy.WorkersToDelete) == 0,
				fmt.Sprintf("replicas %d, workers %v", replicas(g), workerNames(t, c.ns))
		})
		reasons := eventReasons(t, c.ns)
		for _, want := range []string{"GCSUnreachable: holding scaling", "GCSReachable: GCS at", "ScaledDown: small-wg 1→0"} {
			if !hasEvent(reasons, want) {
				t.Errorf("%s: no event %q in %q", c.ns, want, reasons)
			}
		}
		if !strings.Contains(strings.Join(c.versions(), "|"), c.worker) {
			t.Errorf("%s: the idle worker %s was never listed in workersToDelete: %q", c.ns, c.worker, c.versions())
		}
		t.Logf("%s (%s): %d GCS calls failed during the outage", c.ns, c.mode, c.failed)
	}
	t.Logf("all scaled down %s after the GCS came back; control scaled down %s into the outage; scenario took %s (outage %s)",
		time.Since(healed).Round(100*time.Millisecond), controlDown.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond), outage)
}

func nsOf[T any](xs []T, f func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, f(x))
	}
	return out
}
