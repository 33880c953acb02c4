package e2e

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
)

// One `kubectl apply -f` of a file holding a new ComputeTemplate and a
// compact RayCluster naming it: kubectl creates the template, then the
// cluster, and the webhook must find the template it has just been told
// about, every time (no retry here), not only once its cache caught up.
func TestApplyTemplateAndClusterInOneFile(t *testing.T) {
	const iterations = 20
	ns := uniqueNamespace("e2e-apply")
	mustKubectl(t, "", "create", "namespace", ns)
	t.Cleanup(func() { _, _, _ = kubectl(t, "", "delete", "namespace", ns, "--wait=false") })
	start := time.Now()
	failed := 0
	var slowest time.Duration
	var deletes sync.WaitGroup
	for i := range iterations {
		tpl, name := fmt.Sprintf("tpl-%d", i), fmt.Sprintf("apply-%d", i)
		cpu := fmt.Sprintf("%dm", 1000+10*i) // a different size each time
		doc := fmt.Sprintf(`apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata:
  name: %[1]s
spec:
  cpu: %[3]q
  memory: 2Gi
---
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: %[2]s
  annotations:
    ray.io/compute-template: %[1]s
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams: {num-cpus: "0"}
    template: {}
  workerGroupSpecs:
  - {groupName: small-wg, minReplicas: 0, maxReplicas: 5, template: {}}
`, tpl, name, cpu)
		applied := time.Now()
		// The stored objects as the API server returned them: the cluster
		// as admitted, expanded from the template.
		out, errOut, err := kubectl(t, doc, "apply", "-n", ns, "-f", "-", "-o",
			`jsonpath={range .items[*]}{.kind} {.metadata.name} {.spec.headGroupSpec.template.spec.containers[0].resources.requests.cpu}{"\n"}{end}`)
		took := time.Since(applied)
		slowest = max(slowest, took)
		if err != nil {
			failed++
			t.Errorf("iteration %d: kubectl apply (template %s and cluster %s in one file) after %s: %v\n%s%s",
				i, tpl, name, took.Round(time.Millisecond), err, out, errOut)
			continue
		}
		got := ""
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) == 3 && f[0] == "RayCluster" && f[1] == name {
				got = f[2]
			}
		}
		if q, err := resource.ParseQuantity(got); err != nil || q.Cmp(resource.MustParse(cpu)) != 0 {
			t.Errorf("iteration %d: cluster %s head cpu request %q, want the template's %s; kubectl printed %q", i, name, got, cpu, out)
		}
		// Deleted as we go, without waiting for the deletion.
		deletes.Go(func() { _, _, _ = kubectl(t, "", "delete", "raycluster", name, "-n", ns, "--wait=false") })
	}
	deletes.Wait()
	t.Logf("%d of %d applies succeeded in %s (slowest apply %s)", iterations-failed, iterations,
		time.Since(start).Round(10*time.Millisecond), slowest.Round(time.Millisecond))
}
