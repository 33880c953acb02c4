package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// planJSON is the part of `raypilot plan -o json` this test reads.
type planJSON struct {
	Cluster struct {
		Namespace  string   `json:"namespace"`
		Name       string   `json:"name"`
		RayVersion string   `json:"rayVersion"`
		ScalerActs bool     `json:"scalerActs"`
		LeftAlone  []string `json:"leftAlone"`
	} `json:"cluster"`
	Replicas map[string]int `json:"replicas"`
	Groups   []struct {
		Name     string `json:"name"`
		Replicas int    `json:"replicas"`
		Desired  int    `json:"desired"`
		Launch   int    `json:"launch"`
	} `json:"groups"`
	Pending    planDemandJSON `json:"pending"`
	Infeasible planDemandJSON `json:"infeasible"`
	Decisions  []string       `json:"decisions"`
}

type planDemandJSON struct {
	Requests []struct {
		Resources map[string]float64 `json:"resources"`
		Count     int                `json:"count"`
	} `json:"requests"`
}

// count is the number of requests of demand whose shape is exactly
// {CPU: cpu}.
func (d planDemandJSON) count(cpu float64) int {
	n := 0
	for _, r := range d.Requests {
		if len(r.Resources) == 1 && r.Resources["CPU"] == cpu {
			n += r.Count
		}
	}
	return n
}

// raysimGRPCAddress is where raysim serves every cluster's GCS, as the
// control plane's scaler dials it (hack/local-cluster.sh records the port
// in settings.env beside the env file).
func raysimGRPCAddress(t *testing.T) string {
	t.Helper()
	envFile, err := exec.Command(filepath.Join(repoRoot, "hack", "local-cluster.sh"), "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	settings := filepath.Join(filepath.Dir(strings.TrimSpace(string(envFile))), "settings.env")
	out, err := exec.Command("bash", "-c", `source "$1" && echo "$RAYSIM_GRPC_PORT"`, "_", settings).Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("RAYSIM_GRPC_PORT from %s: %v %q", settings, err, out)
	}
	return "127.0.0.1:" + strings.TrimSpace(string(out))
}

// buildRaypilot builds raypilot from this tree.
func buildRaypilot(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "raypilot")
	build := exec.Command("go", "build", "-o", bin, "./cmd/raypilot")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runPlan runs `raypilot plan --cluster ns/name -o json` against the
// control plane, the GCS at raysim, and decodes the plan.
func runPlan(t *testing.T, bin, gcsProxy, ns, name string) planJSON {
	t.Helper()
	cmd := exec.Command(bin, "plan", "--cluster", ns+"/"+name, "--kubeconfig", kubeconfig, "--gcs-proxy-address", gcsProxy, "-o", "json")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("raypilot plan: %v\n%s", err, errb.String())
	}
	var p planJSON
	if err := json.Unmarshal(out.Bytes(), &p); err != nil {
		t.Fatalf("raypilot plan printed no JSON plan: %v\n%s", err, out.String())
	}
	return p
}

// `raypilot plan --cluster` tells what the scaler will do: on a cluster the
// scaler ignores (no raypilot.io/autoscaling: central), with demand in its
// GCS, the plan says the scaler leaves it alone and what it would decide;
// once the cluster is annotated, the scaler writes exactly the plan's
// replicas. 7 tasks of {CPU: 1} need 4 of the 2-CPU workers; a {CPU: 4}
// task fits no worker and is infeasible.
func TestPlanMatchesTheScaler(t *testing.T) {
	ns := namespace(t, uniqueNamespace("e2e-plan"))
	cluster := readExample(t, "raycluster.yaml")
	cluster = strings.Replace(cluster, "enableInTreeAutoscaling: true", "enableInTreeAutoscaling: false", 1)
	mustKubectl(t, cluster, "apply", "-n", ns, "-f", "-")
	eventually(t, 60*time.Second, "head Running, no worker", func() (bool, string) {
		ps := pods(t, ns, "test-cluster")
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 0, summary(ps)
	})
	if rc := getRayCluster(t, ns, "test-cluster"); rc.Annotations["raypilot.io/autoscaling"] != "" {
		t.Fatalf("created with annotations %v: want no raypilot.io/autoscaling", rc.Annotations)
	}

	base := raysimPath(ns, "test-cluster", "")
	mustRaysim(t, "POST", base+"/tasks", map[string]any{"resources": map[string]float64{"CPU": 1}, "count": 7, "durationSeconds": 600})
	mustRaysim(t, "POST", base+"/tasks", map[string]any{"resources": map[string]float64{"CPU": 4}, "count": 1, "durationSeconds": 600})
	eventually(t, 15*time.Second, "raysim reports the pending requests", func() (bool, string) {
		st := clusterState(t, ns, "test-cluster")
		return len(st.PendingResourceRequests) == 2, fmt.Sprintf("%d pending shapes", len(st.PendingResourceRequests))
	})

	bin, gcsProxy := buildRaypilot(t), raysimGRPCAddress(t)
	plan := runPlan(t, bin, gcsProxy, ns, "test-cluster")
	t.Logf("plan: replicas %v, decisions %q, left alone: %q", plan.Replicas, plan.Decisions, plan.Cluster.LeftAlone)
	if plan.Cluster.ScalerActs || len(plan.Cluster.LeftAlone) != 1 || !strings.Contains(plan.Cluster.LeftAlone[0], "no annotation raypilot.io/autoscaling") {
		t.Errorf("cluster %+v: want left alone for want of the annotation", plan.Cluster)
	}
	if plan.Cluster.RayVersion != "2.9.0" {
		t.Errorf("Ray version %q, want the cluster's 2.9.0", plan.Cluster.RayVersion)
	}
	if plan.Pending.count(1) != 7 || plan.Pending.count(4) != 1 || plan.Infeasible.count(4) != 1 || plan.Infeasible.count(1) != 0 {
		t.Errorf("pending %+v, infeasible %+v: want 7 × {CPU: 1} and 1 × {CPU: 4} pending, the {CPU: 4} infeasible", plan.Pending, plan.Infeasible)
	}
	desired := plan.Replicas["small-wg"]
	if len(plan.Groups) != 1 || plan.Groups[0].Desired != desired || plan.Groups[0].Launch != desired || desired != 4 {
		t.Fatalf("replicas %v, groups %+v: want small-wg 4, launching 4", plan.Replicas, plan.Groups)
	}
	// The plan only read the GCS, and the scaler left the cluster alone.
	if n := raysimGCSCounters(t, ns, "test-cluster").Reports; n != 0 {
		t.Errorf("%d autoscaling reports to the cluster's GCS before it was handed to the scaler", n)
	}
	if n := replicas(workerGroup(t, ns)); n > 0 {
		t.Errorf("replicas %d before the cluster was handed to the scaler", n)
	}

	versions := watchLines(t, ns, "raycluster", "test-cluster", `{.spec.workerGroupSpecs[0].replicas}`)
	mustKubectl(t, "", "annotate", "raycluster", "test-cluster", "-n", ns, "raypilot.io/autoscaling=central")
	want := fmt.Sprint(desired)
	eventually(t, 30*time.Second, "the scaler writes the plan's replicas", func() (bool, string) {
		return replicas(workerGroup(t, ns)) == int32(desired), strings.Join(versions(), " | ")
	})
	steadyWhileScaling(t, ns, "test-cluster", 3*time.Second, 2, "replicas stay at the plan's", func() (bool, string) {
		n := replicas(workerGroup(t, ns))
		return n == int32(desired), fmt.Sprint("replicas ", n)
	})
	// Every value the scaler wrote is the plan's: no other on the way.
	for _, v := range versions() {
		if v != "" && v != "0" && v != want {
			t.Errorf("replicas went through %s: versions %q, plan %s", v, versions(), want)
		}
	}
	if !slices.Contains(versions(), want) {
		t.Errorf("versions %q never show the plan's %s", versions(), want)
	}

	// Now the scaler acts, and the plan is the state it reached.
	after := runPlan(t, bin, gcsProxy, ns, "test-cluster")
	if !after.Cluster.ScalerActs || after.Replicas["small-wg"] != desired || after.Infeasible.count(4) != 1 {
		t.Errorf("after the hand-over: cluster %+v, replicas %v, infeasible %+v", after.Cluster, after.Replicas, after.Infeasible)
	}
}
