package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
)

// Scenario 3: the kube-apiserver is stopped (the first time with SIGTERM, a
// graceful shutdown, then with SIGKILL, a crash; etcd keeps the data) and
// started again while the scaler works: demand arrives while it is
// down, so the scaler decides and fails to patch mid-outage. Nothing lost:
// the scaler and the webhook recover without a restart of their own (same
// PIDs), the scale-up lands after the restart, and a RayCluster created
// afterwards, naming a compute template created afterwards too (so the
// webhook's informer must have caught up), is stored expanded.
func TestChaosAPIServerRestart(t *testing.T) {
	chaos(t)
	keepRunning(t, "kube-apiserver")
	ns := chaosNamespace("apiserver", 0)
	namespace(t, ns)
	startSeedCluster(t, ns, "")
	scalerPID, webhookPID := componentPID(t, "raypilot-scaler"), componentPID(t, "raypilot-webhook")
	for i := 1; i <= iterations(t, 3); i++ {
		t.Run(fmt.Sprint("iteration-", i), func(t *testing.T) {
			start := time.Now()
			signal := "KILL"
			if i == 1 {
				signal = "TERM"
			}
			localCluster(t, "stop", "kube-apiserver", signal)
			if _, _, err := kubectl(t, "", "get", "--raw", "/readyz"); err == nil {
				t.Fatal("the kube-apiserver still answers after stop")
			}
			stopped := time.Now()
			// Demand while the API server is down: the scaler reads it from
			// the GCS, decides, and cannot patch.
			mustRaysim(t, "POST", "/v1/clusters/"+ns+"/test-cluster/actors",
				map[string]any{"name": fmt.Sprint("a", i), "resources": map[string]float64{"CPU": 2}})
			time.Sleep(3 * time.Second)
			localCluster(t, "start", "kube-apiserver")
			down := time.Since(stopped)

			eventually(t, 150*time.Second, fmt.Sprintf("scale-up to %d workers after the restart", i), func() (bool, string) {
				ws := running(pods(t, ns, "test-cluster"), "worker")
				st := clusterState(t, ns, "test-cluster")
				return len(ws) == i && replicas(workerGroup(t, ns)) == int32(i) && len(st.PendingResourceRequests) == 0,
					fmt.Sprintf("%d workers, replicas %d, %d pending", len(ws), replicas(workerGroup(t, ns)), len(st.PendingResourceRequests))
			})
			scaled := time.Since(start)

			template := fmt.Sprintf("tmpl-%d", i)
			mustKubectl(t, fmt.Sprintf("apiVersion: raypilot.io/v1alpha1\nkind: ComputeTemplate\nmetadata: {name: %s}\nspec: {cpu: \"1\", memory: 2Gi}\n", template),
				"apply", "-n", ns, "-f", "-")
			name := fmt.Sprintf("after-restart-%d", i)
			cluster := fmt.Sprintf(`apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: %s
  annotations: {ray.io/compute-template: %s}
spec:
  rayVersion: "2.9.0"
  suspend: true
  headGroupSpec: {rayStartParams: {}, template: {}}
  workerGroupSpecs:
  - {groupName: wg, minReplicas: 0, maxReplicas: 2, template: {}}
`, name, template)
			// The webhook's template cache may lag the new template by a
			// moment (a miss is a denial naming it); it must catch up.
			eventually(t, 30*time.Second, "a create through the webhook", func() (bool, string) {
				_, errOut, err := kubectl(t, cluster, "create", "-n", ns, "-f", "-")
				return err == nil, errOut
			})
			rc := decode[rayv1.RayCluster](t, mustKubectl(t, "", "get", "raycluster", name, "-n", ns, "-o", "json"))
			checkExpanded(t, rc, template, "1")

			for comp, pid := range map[string]int{"raypilot-scaler": scalerPID, "raypilot-webhook": webhookPID} {
				if now := componentPID(t, comp); now != pid || !alive(pid) {
					t.Errorf("%s restarted: pid %d, was %d (alive %v)", comp, now, pid, alive(pid))
				}
			}
			t.Logf("SIG%s: API server down %s; scaled up %s after the stop; iteration took %s",
				signal, down.Round(100*time.Millisecond), scaled.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
		})
	}
}

// checkExpanded asserts rc was stored as the webhook expands it: every
// group's template names the compute template, carries the expansion hash,
// and its Ray container has the template's CPU as request and limit.
func checkExpanded(t *testing.T, rc rayv1.RayCluster, template, cpu string) {
	t.Helper()
	if msg := expansionProblem(rc, template, cpu); msg != "" {
		t.Errorf("RayCluster %s stored unexpanded: %s", rc.Name, msg)
	}
}

// expansionProblem says what is missing from rc's expansion ("" if
// nothing).
func expansionProblem(rc rayv1.RayCluster, template, cpu string) string {
	groups := map[string]corev1.PodTemplateSpec{"head": rc.Spec.HeadGroupSpec.Template}
	for _, g := range rc.Spec.WorkerGroupSpecs {
		groups[g.GroupName] = g.Template
	}
	var problems []string
	for _, name := range slices.Sorted(maps.Keys(groups)) {
		tmpl := groups[name]
		ann := tmpl.Annotations
		switch {
		case ann["ray.io/compute-template"] != template:
			problems = append(problems, fmt.Sprintf("%s: ray.io/compute-template %q, want %q", name, ann["ray.io/compute-template"], template))
		case ann["raypilot.io/expanded"] == "":
			problems = append(problems, name+": no raypilot.io/expanded annotation")
		case len(tmpl.Spec.Containers) == 0:
			problems = append(problems, name+": no Ray container")
		default:
			res := tmpl.Spec.Containers[0].Resources
			if res.Limits.Cpu().String() != cpu || res.Requests.Cpu().String() != cpu {
				problems = append(problems, fmt.Sprintf("%s: cpu request %s / limit %s, want %s", name, res.Requests.Cpu(), res.Limits.Cpu(), cpu))
			}
		}
	}
	return strings.Join(problems, "; ")
}
