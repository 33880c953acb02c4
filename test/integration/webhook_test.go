package integration

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

const exampleConfigMap = `apiVersion: v1
kind: ConfigMap
metadata:
  name: ray-example
data:
  detached_actor.py: "print('hi')"
`

func mustKubectl(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, errOut, err := kubectlIn(stdin, args...)
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, errOut)
	}
	return out
}

func applySeed(t *testing.T) {
	t.Helper()
	mustKubectl(t, "", "apply", "-f", filepath.Join(repoRoot, "examples", "compute-template.yaml"))
	mustKubectl(t, exampleConfigMap, "apply", "-f", "-")
}

func getCluster(t *testing.T, name string) (*rayv1.RayCluster, string) {
	t.Helper()
	out := mustKubectl(t, "", "get", "raycluster", name, "-o", "json")
	var rc rayv1.RayCluster
	if err := json.Unmarshal([]byte(out), &rc); err != nil {
		t.Fatal(err)
	}
	return &rc, out
}

func TestSeedClusterIsStoredExpanded(t *testing.T) {
	applySeed(t)
	mustKubectl(t, "", "apply", "-f", filepath.Join(repoRoot, "examples", "raycluster.yaml"))
	t.Cleanup(func() { _, _, _ = kubectl("delete", "raycluster", "test-cluster", "--wait=false") })
	rc, _ := getCluster(t, "test-cluster")

	want := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	groups := map[string]*corev1.PodTemplateSpec{"head": &rc.Spec.HeadGroupSpec.Template}
	if len(rc.Spec.WorkerGroupSpecs) != 1 {
		t.Fatalf("worker groups = %d, want 1", len(rc.Spec.WorkerGroupSpecs))
	}
	groups["small-wg"] = &rc.Spec.WorkerGroupSpecs[0].Template
	for name, tmpl := range groups {
		if got := tmpl.Annotations["ray.io/compute-template"]; got != "default-template" {
			t.Errorf("%s: annotation ray.io/compute-template = %q", name, got)
		}
		if tmpl.Annotations["raypilot.io/expanded"] == "" {
			t.Errorf("%s: no raypilot.io/expanded annotation", name)
		}
		if len(tmpl.Spec.Containers) != 1 {
			t.Fatalf("%s: containers = %d, want 1", name, len(tmpl.Spec.Containers))
		}
		c := tmpl.Spec.Containers[0]
		if c.Image != "rayproject/ray:2.9.0" {
			t.Errorf("%s: image = %q", name, c.Image)
		}
		for _, res := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
			for k, v := range want {
				if q := res[k]; q.Cmp(v) != 0 {
					t.Errorf("%s: %s = %s, want %s", name, k, q.String(), v.String())
				}
			}
		}
		if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != "code-sample" || c.VolumeMounts[0].MountPath != "/home/ray/samples" {
			t.Errorf("%s: volumeMounts = %+v", name, c.VolumeMounts)
		}
		if len(tmpl.Spec.Volumes) != 1 || tmpl.Spec.Volumes[0].ConfigMap == nil || tmpl.Spec.Volumes[0].ConfigMap.Name != "ray-example" {
			t.Errorf("%s: volumes = %+v", name, tmpl.Spec.Volumes)
		}
		if !hasEnv(c.Env, "MY_POD_IP", "status.podIP") {
			t.Errorf("%s: no MY_POD_IP env: %+v", name, c.Env)
		}
	}
	head := rc.Spec.HeadGroupSpec.Template.Spec.Containers[0]
	if head.Name != "ray-head" {
		t.Errorf("head container name = %q", head.Name)
	}
	ports := map[string]int32{}
	for _, p := range head.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for name, port := range map[string]int32{"gcs-server": 6379, "client": 10001, "dashboard": 8265, "metrics": 8080} {
		if ports[name] != port {
			t.Errorf("head port %s = %d, want %d", name, ports[name], port)
		}
	}
	worker := rc.Spec.WorkerGroupSpecs[0]
	wc := worker.Template.Spec.Containers[0]
	if wc.Name != "ray-worker" || wc.Lifecycle == nil || wc.Lifecycle.PreStop == nil || wc.Lifecycle.PreStop.Exec == nil ||
		strings.Join(wc.Lifecycle.PreStop.Exec.Command, " ") != "/bin/sh -c ray stop" {
		t.Errorf("worker container: name %q, lifecycle %+v", wc.Name, wc.Lifecycle)
	}
	if worker.Replicas == nil || *worker.Replicas != 0 {
		t.Errorf("worker replicas = %v, want 0 (minReplicas)", worker.Replicas)
	}
	// User fields and the autoscaling options pass through.
	if rc.Spec.HeadGroupSpec.ServiceType != corev1.ServiceTypeNodePort || rc.Spec.HeadGroupSpec.RayStartParams["num-cpus"] != "0" {
		t.Errorf("head group user fields changed: %+v", rc.Spec.HeadGroupSpec)
	}
	if ao := rc.Spec.AutoscalerOptions; ao == nil || ao.IdleTimeoutSeconds == nil || *ao.IdleTimeoutSeconds != 30 || ao.Resources == nil {
		t.Errorf("autoscalerOptions = %+v", rc.Spec.AutoscalerOptions)
	}
}

func hasEnv(env []corev1.EnvVar, name, fieldPath string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == fieldPath {
			return true
		}
	}
	return false
}

func TestInvalidClusterIsRefusedWithFieldErrors(t *testing.T) {
	applySeed(t)
	bad := `apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: bad-cluster
  annotations: {ray.io/compute-template: default-template}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - {groupName: small-wg, minReplicas: 6, maxReplicas: 5, template: {}}
  - {groupName: gpu, minReplicas: 0, maxReplicas: 2, template: {metadata: {annotations: {ray.io/compute-template: no-such-template}}}}
`
	_, stderr, err := kubectlIn(bad, "apply", "-f", "-")
	if err == nil {
		t.Fatal("invalid cluster was accepted")
	}
	for _, want := range []string{
		"spec.workerGroupSpecs[0].minReplicas: Invalid value: 6: must be <= maxReplicas (5)",
		`spec.workerGroupSpecs[1].template.metadata.annotations[ray.io/compute-template]: Invalid value: "no-such-template": compute template not found; searched ComputeTemplate default/no-such-template`,
		"ComputeTemplate/default-template",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("kubectl output lacks %q:\n%s", want, stderr)
		}
	}
	if _, _, err := kubectl("get", "raycluster", "bad-cluster"); err == nil {
		t.Error("bad-cluster was stored")
	}
}

func TestServerDryRunChangesNothing(t *testing.T) {
	applySeed(t)
	cluster := strings.Replace(readExample(t, "raycluster.yaml"), "name: test-cluster", "name: dry-cluster", 1)
	out := mustKubectl(t, cluster, "apply", "--dry-run=server", "-o", "json", "-f", "-")
	if !strings.Contains(out, `"ray-worker"`) {
		t.Errorf("dry run response is not expanded:\n%s", out)
	}
	if _, _, err := kubectl("get", "raycluster", "dry-cluster"); err == nil {
		t.Error("server-side dry run stored the cluster")
	}
	// A dry-run update of an existing cluster changes nothing either.
	mustKubectl(t, cluster, "apply", "-f", "-")
	t.Cleanup(func() { _, _, _ = kubectl("delete", "raycluster", "dry-cluster", "--wait=false") })
	_, before := getCluster(t, "dry-cluster")
	changed := strings.Replace(cluster, "maxReplicas: 5", "maxReplicas: 4", 1)
	mustKubectl(t, changed, "apply", "--dry-run=server", "-f", "-")
	if _, after := getCluster(t, "dry-cluster"); after != before {
		t.Errorf("dry-run update changed the stored object")
	}
}

func TestReapplyLeavesStoredObjectUnchanged(t *testing.T) {
	applySeed(t)
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"client-side", []string{"apply", "-f", "-"}},
		{"server-side", []string{"apply", "--server-side", "-f", "-"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			name := "reapply-" + mode.name
			cluster := strings.Replace(readExample(t, "raycluster.yaml"), "name: test-cluster", "name: "+name, 1)
			mustKubectl(t, cluster, mode.args...)
			t.Cleanup(func() { _, _, _ = kubectl("delete", "raycluster", name, "--wait=false") })
			first, firstJSON := getCluster(t, name)
			for i := 0; i < 2; i++ {
				mustKubectl(t, cluster, mode.args...)
			}
			second, secondJSON := getCluster(t, name)
			if first.ResourceVersion != second.ResourceVersion || first.Generation != second.Generation {
				t.Errorf("re-apply changed the object: resourceVersion %s -> %s, generation %d -> %d\nbefore: %s\nafter: %s",
					first.ResourceVersion, second.ResourceVersion, first.Generation, second.Generation, firstJSON, secondJSON)
			}
		})
	}
}

func TestRayJobEmbeddedClusterIsExpanded(t *testing.T) {
	applySeed(t)
	job := `apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: create-actor
  annotations: {ray.io/compute-template: default-template}
spec:
  entrypoint: python /home/ray/samples/detached_actor.py actor1
  rayClusterSpec:
    rayVersion: "2.9.0"
    headGroupSpec: {template: {}}
    workerGroupSpecs:
    - {groupName: small-wg, minReplicas: 0, maxReplicas: 2, template: {}}
`
	mustKubectl(t, job, "apply", "-f", "-")
	t.Cleanup(func() { _, _, _ = kubectl("delete", "rayjob", "create-actor", "--wait=false") })
	var rj rayv1.RayJob
	if err := json.Unmarshal([]byte(mustKubectl(t, "", "get", "rayjob", "create-actor", "-o", "json")), &rj); err != nil {
		t.Fatal(err)
	}
	spec := rj.Spec.RayClusterSpec
	if spec == nil || len(spec.WorkerGroupSpecs) != 1 || len(spec.WorkerGroupSpecs[0].Template.Spec.Containers) != 1 {
		t.Fatalf("rayClusterSpec not expanded: %+v", spec)
	}
	if q := spec.WorkerGroupSpecs[0].Template.Spec.Containers[0].Resources.Limits[corev1.ResourceCPU]; q.String() != "2" {
		t.Errorf("worker cpu limit = %s, want 2", q.String())
	}
}

func TestAPIServerConfigMapTemplateMatchesCRDTemplate(t *testing.T) {
	applySeed(t)
	cm := `apiVersion: v1
kind: ConfigMap
metadata:
  name: legacy-template
  labels: {ray.io/config-type: compute-template, ray.io/compute-template: legacy-template}
data: {name: legacy-template, namespace: default, cpu: "2", memory: "4", memory_unit: Gi, gpu: "0", gpu_accelerator: "", extended_resources: "null"}
`
	mustKubectl(t, cm, "apply", "-f", "-")
	cluster := strings.Replace(strings.Replace(readExample(t, "raycluster.yaml"), "name: test-cluster", "name: legacy-cluster", 1),
		"ray.io/compute-template: default-template", "ray.io/compute-template: legacy-template", 1)
	mustKubectl(t, cluster, "apply", "-f", "-")
	t.Cleanup(func() { _, _, _ = kubectl("delete", "raycluster", "legacy-cluster", "--wait=false") })
	rc, _ := getCluster(t, "legacy-cluster")
	res := rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers[0].Resources
	if res.Limits.Cpu().String() != "2" || res.Limits.Memory().String() != "4Gi" || res.Requests.Memory().String() != "4Gi" {
		t.Errorf("ConfigMap template gave %+v, want cpu 2 / memory 4Gi", res)
	}
}

func TestComputeTemplateSchemaRejectsZeroCPU(t *testing.T) {
	bad := `apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata: {name: zero}
spec: {cpu: "0", memory: 1Gi}
`
	_, stderr, err := kubectlIn(bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(stderr, "cpu must be greater than 0") {
		t.Errorf("zero-CPU template: err %v, output %s", err, stderr)
	}
	missing := `apiVersion: raypilot.io/v1alpha1
kind: ComputeTemplate
metadata: {name: nomem}
spec: {cpu: "1"}
`
	if _, stderr, err := kubectlIn(missing, "apply", "-f", "-"); err == nil || !strings.Contains(stderr, "spec.memory: Required value") {
		t.Errorf("template without memory: err %v, output %s", err, stderr)
	}
	out := mustKubectl(t, "", "get", "computetemplate", "default-template")
	for _, col := range []string{"CPU", "MEMORY", "GPU", "AGE"} {
		if !strings.Contains(out, col) {
			t.Errorf("printer column %s missing:\n%s", col, out)
		}
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	data, err := readFile(filepath.Join(repoRoot, "examples", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
