package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
)

// inTreeCluster is a complete (not compact) RayCluster autoscaled by
// KubeRay's in-tree autoscaler, as clusters created before raypilot was
// installed are: KubeRay adds the autoscaler sidecar to its head pod.
const inTreeCluster = `apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: legacy
spec:
  rayVersion: "2.9.0"
  enableInTreeAutoscaling: true
  headGroupSpec:
    rayStartParams: {num-cpus: "0"}
    template:
      spec:
        containers:
        - name: ray-head
          image: rayproject/ray:2.9.0
          resources: {requests: {cpu: "1", memory: 2Gi}, limits: {cpu: "1", memory: 2Gi}}
  workerGroupSpecs:
  - groupName: small-wg
    minReplicas: 0
    maxReplicas: 5
    replicas: 1
    rayStartParams: {}
    template:
      spec:
        containers:
        - name: ray-worker
          image: rayproject/ray:2.9.0
          resources: {requests: {cpu: "1", memory: 2Gi}, limits: {cpu: "1", memory: 2Gi}}
`

// The autoscaling mode is decided once, at CREATE. An in-tree cluster that
// existed before the webhook applied to it stays in-tree through UPDATEs
// (a label, a scale) under policy mode central; setting the annotation
// raypilot.io/autoscaling: central moves it, and the scaler then leaves it
// alone while its head pod still runs KubeRay's autoscaler sidecar, even
// with demand pending, until the head pod is recreated without it.
func TestAutoscalingModeExistingInTreeCluster(t *testing.T) {
	ns := uniqueNamespace("e2e-mode-intree")
	excludeFromWebhooks(t, ns)
	namespace(t, ns)
	waitWebhookInForce(t, ns, false)

	// 1. Created while the webhooks skip the namespace: stored as written.
	mustKubectl(t, inTreeCluster, "create", "-n", ns, "-f", "-")
	if rc := getRayCluster(t, ns, "legacy"); !inTree(rc) {
		t.Fatalf("created without the webhook, yet stored with enableInTreeAutoscaling %v, annotations %v",
			deref(rc.Spec.EnableInTreeAutoscaling), rc.Annotations)
	}
	var head corev1.Pod
	eventually(t, 90*time.Second, "head (with KubeRay's autoscaler sidecar) and 1 worker Running", func() (bool, string) {
		ps := pods(t, ns, "legacy")
		hs := running(ps, "head")
		if len(hs) != 1 || len(running(ps, "worker")) != 1 {
			return false, summary(ps)
		}
		head = hs[0]
		return true, ""
	})
	if !podHasContainer(head, "autoscaler") {
		t.Fatalf("KubeRay built head pod %s without the autoscaler sidecar: %v", head.Name, containerNames(head))
	}

	includeInWebhooks(t, ns)
	waitWebhookInForce(t, ns, true)
	// A cluster for the central scaler next to it: its scale-up shows the
	// scaler deciding while it leaves the moved cluster alone.
	control := strings.Replace(readExample(t, "raycluster.yaml"), "name: test-cluster", "name: control", 1)
	mustKubectl(t, control, "apply", "-n", ns, "-f", "-")

	// UPDATEs through the webhook keep the mode.
	mustKubectl(t, "", "label", "raycluster", "legacy", "-n", ns, "team=ml")
	if rc := getRayCluster(t, ns, "legacy"); !inTree(rc) {
		t.Errorf("after a label change: enableInTreeAutoscaling %v, annotations %v; want true and no %s (the mode is decided at CREATE)",
			deref(rc.Spec.EnableInTreeAutoscaling), rc.Annotations, "raypilot.io/autoscaling")
	}
	mustKubectl(t, "", "patch", "raycluster", "legacy", "-n", ns, "--type", "json",
		"-p", `[{"op": "replace", "path": "/spec/workerGroupSpecs/0/replicas", "value": 2}]`)
	rc := getRayCluster(t, ns, "legacy")
	if !inTree(rc) {
		t.Errorf("after a scale: enableInTreeAutoscaling %v, annotations %v; want true and no %s (the mode is decided at CREATE)",
			deref(rc.Spec.EnableInTreeAutoscaling), rc.Annotations, "raypilot.io/autoscaling")
	}
	if n := replicas(rc.Spec.WorkerGroupSpecs[0]); n != 2 {
		t.Fatalf("replicas %d after the scale, want 2", n)
	}
	eventually(t, 60*time.Second, "2 workers Running", func() (bool, string) {
		ps := pods(t, ns, "legacy")
		return len(running(ps, "worker")) == 2, summary(ps)
	})

	// 2. Moved explicitly, with demand the 2 workers cannot hold: 4 tasks
	// of {CPU: 1} on two 1-CPU workers leave 2 pending.
	base := "/v1/clusters/" + ns + "/legacy"
	mustRaysim(t, "POST", base+"/tasks", map[string]any{"resources": map[string]float64{"CPU": 1}, "count": 4, "durationSeconds": 600})
	eventually(t, 15*time.Second, "raysim reports 2 pending requests", func() (bool, string) {
		st := clusterState(t, ns, "legacy")
		return len(st.PendingResourceRequests) > 0, fmt.Sprintf("%+v", st)
	})
	versions := watchLines(t, ns, "raycluster", "legacy",
		`{.spec.workerGroupSpecs[0].replicas} {.spec.workerGroupSpecs[0].scaleStrategy.workersToDelete}`)
	roundsBefore := scalerReconciles(t)
	mustKubectl(t, "", "annotate", "raycluster", "legacy", "-n", ns, "raypilot.io/autoscaling=central", "--overwrite")
	moved := time.Now()
	rc = getRayCluster(t, ns, "legacy")
	if rc.Annotations["raypilot.io/autoscaling"] != "central" || deref(rc.Spec.EnableInTreeAutoscaling) != "false" {
		t.Fatalf("after annotating central: enableInTreeAutoscaling %v, annotations %v; want false and central",
			deref(rc.Spec.EnableInTreeAutoscaling), rc.Annotations)
	}
	hs := running(pods(t, ns, "legacy"), "head")
	if len(hs) != 1 || hs[0].UID != head.UID || !podHasContainer(hs[0], "autoscaler") {
		t.Fatalf("KubeRay replaced the head pod on the move (%s), so the sidecar case is not exercised", summary(hs))
	}

	want := fmt.Sprintf("InTreeAutoscalerRunning: not scaling: the head pod %s still runs KubeRay's in-tree autoscaler container", head.Name)
	eventually(t, 20*time.Second, "Warning InTreeAutoscalerRunning on the moved cluster", func() (bool, string) {
		reasons := clusterEvents(t, ns, "legacy")
		return hasEvent(reasons, want), fmt.Sprint(reasons)
	})
	mustRaysim(t, "POST", "/v1/clusters/"+ns+"/control/actors", map[string]any{"name": "a1", "resources": map[string]float64{"CPU": 1}})
	eventually(t, 60*time.Second, "the scaler scales the control cluster up meanwhile", func() (bool, string) {
		g := getRayCluster(t, ns, "control").Spec.WorkerGroupSpecs[0]
		return replicas(g) == 1, fmt.Sprint("control replicas ", replicas(g))
	})
	// At least 10 s and 20 scaler rounds since the move (the scaler runs
	// each managed cluster every second).
	eventually(t, 60*time.Second, "10 s and 20 scaler rounds since the move", func() (bool, string) {
		n := scalerReconciles(t) - roundsBefore
		return time.Since(moved) > 10*time.Second && n >= 20, fmt.Sprint(n, " rounds in ", time.Since(moved).Round(time.Second))
	})
	seen := versions()
	for _, v := range seen {
		if strings.TrimSpace(v) != "2" {
			t.Errorf("the scaler wrote the cluster while KubeRay's autoscaler sidecar runs: versions %q", seen)
			break
		}
	}
	if n := replicas(getRayCluster(t, ns, "legacy").Spec.WorkerGroupSpecs[0]); n != 2 {
		t.Errorf("replicas %d next to the in-tree autoscaler sidecar, want 2", n)
	}
	if st := autoscalingReport(t, ns, "legacy"); st != "" {
		t.Errorf("the scaler reported to the GCS of a cluster it must leave alone: %s", st)
	}
	if n := countEvents(t, ns, "legacy", "InTreeAutoscalerRunning"); n != 1 {
		t.Errorf("%d InTreeAutoscalerRunning Events for one head pod, want 1", n)
	}
	t.Logf("watched %d versions of legacy over %s of scaler rounds", len(seen), time.Since(moved).Round(time.Second))

	// 3. The head pod recreated without the sidecar: the scaler takes over
	// and answers the pending demand.
	mustKubectl(t, "", "delete", "pod", head.Name, "-n", ns, "--wait=false")
	eventually(t, 90*time.Second, "a new head pod without the sidecar Running", func() (bool, string) {
		hs := running(pods(t, ns, "legacy"), "head")
		return len(hs) == 1 && hs[0].UID != head.UID && !podHasContainer(hs[0], "autoscaler"), summary(hs)
	})
	eventually(t, 60*time.Second, "the scaler scales the moved cluster up for the pending demand", func() (bool, string) {
		n := replicas(getRayCluster(t, ns, "legacy").Spec.WorkerGroupSpecs[0])
		return n > 2, fmt.Sprint("replicas ", n)
	})
}

// uniqueNamespace is prefix with a suffix of the clock, so that a run right
// after another does not meet its namespace still terminating.
func uniqueNamespace(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixMilli()%1_000_000)
}

func inTree(rc rayv1.RayCluster) bool {
	_, annotated := rc.Annotations["raypilot.io/autoscaling"]
	return deref(rc.Spec.EnableInTreeAutoscaling) == "true" && !annotated
}

func deref(b *bool) string {
	if b == nil {
		return "<unset>"
	}
	return strconv.FormatBool(*b)
}

func podHasContainer(p corev1.Pod, name string) bool {
	return slices.Contains(containerNames(p), name)
}

func containerNames(p corev1.Pod) []string {
	var names []string
	for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
		names = append(names, c.Name)
	}
	return names
}

// webhookConfigs are raypilot's webhook configurations on the local
// control plane (the chart's release name).
var webhookConfigs = []string{"mutatingwebhookconfiguration", "validatingwebhookconfiguration"}

// excludeFromWebhooks adds ns to the namespaces both webhook configurations
// skip (the chart's namespaceSelector, kubernetes.io/metadata.name NotIn),
// the way webhook.excludedNamespaces does; only ns is affected, so
// concurrent tests are not. The exclusion is removed when the test ends.
func excludeFromWebhooks(t *testing.T, ns string) {
	t.Helper()
	for _, kind := range webhookConfigs {
		patch := fmt.Sprintf(`[
{"op": "test", "path": "/webhooks/0/namespaceSelector/matchExpressions/0/key", "value": "kubernetes.io/metadata.name"},
{"op": "test", "path": "/webhooks/0/namespaceSelector/matchExpressions/0/operator", "value": "NotIn"},
{"op": "add", "path": "/webhooks/0/namespaceSelector/matchExpressions/0/values/-", "value": %q}]`, ns)
		if slices.Contains(excludedNamespaces(t, kind), ns) {
			continue // left by an interrupted run
		}
		mustKubectl(t, "", "patch", kind, "raypilot", "--type", "json", "-p", patch)
	}
	t.Cleanup(func() { includeInWebhooks(t, ns) })
}

// includeInWebhooks removes ns from the namespaces the webhooks skip.
func includeInWebhooks(t *testing.T, ns string) {
	t.Helper()
	for _, kind := range webhookConfigs {
		values := excludedNamespaces(t, kind)
		i := slices.Index(values, ns)
		if i < 0 {
			continue
		}
		path := fmt.Sprintf("/webhooks/0/namespaceSelector/matchExpressions/0/values/%d", i)
		patch := fmt.Sprintf(`[{"op": "test", "path": %q, "value": %q}, {"op": "remove", "path": %q}]`, path, ns, path)
		mustKubectl(t, "", "patch", kind, "raypilot", "--type", "json", "-p", patch)
	}
}

func excludedNamespaces(t *testing.T, kind string) []string {
	t.Helper()
	out := mustKubectl(t, "", "get", kind, "raypilot", "-o", "jsonpath={.webhooks[0].namespaceSelector.matchExpressions[0].values}")
	var values []string
	if err := json.Unmarshal([]byte(out), &values); err != nil {
		t.Fatalf("%s raypilot: namespaceSelector values %q: %v", kind, out, err)
	}
	return values
}

// waitWebhookInForce waits until the API server calls (want true) or skips
// (false) the mutating webhook for ns, probing with a server-side dry-run
// create of the in-tree cluster: expanded, its head template carries
// raypilot.io/expanded. The API server sees configuration changes through
// a watch, so they apply after a short delay.
func waitWebhookInForce(t *testing.T, ns string, want bool) {
	t.Helper()
	probe := strings.Replace(inTreeCluster, "name: legacy", "name: probe", 1)
	eventually(t, 30*time.Second, fmt.Sprintf("webhook in force for %s: %v", ns, want), func() (bool, string) {
		out, errOut, err := kubectl(t, probe, "create", "--dry-run=server", "-n", ns, "-f", "-", "-o", "json")
		if err != nil {
			return false, errOut
		}
		rc := decode[rayv1.RayCluster](t, out)
		_, expanded := rc.Spec.HeadGroupSpec.Template.Annotations["raypilot.io/expanded"]
		got := expanded || !inTree(rc)
		return got == want, fmt.Sprintf("expanded %v, annotations %v", expanded, rc.Annotations)
	})
}

// clusterEvents lists "Reason: message" of the Events on one RayCluster.
func clusterEvents(t *testing.T, ns, name string) []string {
	t.Helper()
	var out []string
	for _, e := range rayClusterEvents(t, ns, name) {
		out = append(out, e.Reason+": "+e.Message)
	}
	return out
}

func rayClusterEvents(t *testing.T, ns, name string) []corev1.Event {
	t.Helper()
	out := mustKubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=RayCluster,involvedObject.name="+name, "-o", "json")
	return decode[corev1.EventList](t, out).Items
}

// countEvents counts the occurrences of reason on one RayCluster, repeats
// of one Event (a series) included.
func countEvents(t *testing.T, ns, name, reason string) int {
	t.Helper()
	n := 0
	for _, e := range rayClusterEvents(t, ns, name) {
		if e.Reason != reason {
			continue
		}
		n += max(int(e.Count), 1)
		if e.Series != nil {
			n = max(n, int(e.Series.Count))
		}
	}
	return n
}

// autoscalingReport is what an autoscaler last reported to the cluster's
// (simulated) GCS with ReportAutoscalingState; "" when nothing was.
func autoscalingReport(t *testing.T, ns, name string) string {
	t.Helper()
	out := strings.TrimSpace(string(mustRaysim(t, "GET", fmt.Sprintf("/v1/clusters/%s/%s/autoscaling-state", ns, name), nil)))
	if out == "{}" {
		return ""
	}
	return out
}

// scalerReconciles is the number of rounds the scaler ran (all clusters),
// from controller-runtime's reconcile counter on the scaler's metrics
// endpoint (127.0.0.1, the webhook port + 3 on the local control plane).
func scalerReconciles(t *testing.T) int {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", scalerMetricsPort(t)))
	if err != nil {
		t.Fatalf("scaler metrics: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	total := 0.0
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "controller_runtime_reconcile_total{") || !strings.Contains(line, `controller="raypilot-scaler"`) {
			continue
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("scaler metrics line %q: %v", line, err)
		}
		total += v
	}
	return int(total)
}

// scalerMetricsPort is the port of the scaler's metrics: the webhook port
// + 3 (hack/local-cluster.sh).
func scalerMetricsPort(t *testing.T) int {
	t.Helper()
	return webhookPort(t) + 3
}

// webhookPort reads the webhook port the control plane was started with
// (settings.env next to the env file); hack/local-cluster.sh puts the
// other host listeners next to it.
func webhookPort(t *testing.T) int {
	t.Helper()
	envFile, err := exec.Command(filepath.Join(repoRoot, "hack", "local-cluster.sh"), "env").Output()
	if err != nil {
		t.Fatal(err)
	}
	settings, err := os.ReadFile(filepath.Join(filepath.Dir(strings.TrimSpace(string(envFile))), "settings.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(settings), "\n") {
		if v, ok := strings.CutPrefix(line, "WEBHOOK_PORT="); ok {
			port, err := strconv.Atoi(strings.Trim(v, `'"`))
			if err != nil {
				t.Fatalf("settings.env: %q: %v", line, err)
			}
			return port
		}
	}
	t.Fatal("settings.env names no WEBHOOK_PORT")
	return 0
}
