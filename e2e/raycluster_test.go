package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// pods lists the Ray pods of one cluster.
func pods(t *testing.T, ns, cluster string) []corev1.Pod {
	t.Helper()
	out := mustKubectl(t, "", "get", "pods", "-n", ns, "-l", "ray.io/cluster="+cluster, "-o", "json")
	return decode[corev1.PodList](t, out).Items
}

func running(ps []corev1.Pod, nodeType string) []corev1.Pod {
	var out []corev1.Pod
	for _, p := range ps {
		if p.Labels["ray.io/node-type"] == nodeType && p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out
}

func summary(ps []corev1.Pod) string {
	var s []string
	for _, p := range ps {
		s = append(s, fmt.Sprintf("%s(%s,%s)", p.Name, p.Labels["ray.io/node-type"], p.Status.Phase))
	}
	return strings.Join(s, " ")
}

// checkRayContainer asserts what the webhook expanded reached the pod that
// the KubeRay operator built: the template's resources, the ConfigMap mount
// and MY_POD_IP on the Ray container.
func checkRayContainer(t *testing.T, p corev1.Pod) {
	t.Helper()
	c := p.Spec.Containers[0]
	for _, res := range []corev1.ResourceList{c.Resources.Requests, c.Resources.Limits} {
		if res.Cpu().String() != "2" || res.Memory().String() != "4Gi" {
			t.Errorf("pod %s container %s resources = %v, want cpu 2 / memory 4Gi", p.Name, c.Name, c.Resources)
		}
	}
	mounted := false
	for _, m := range c.VolumeMounts {
		if m.Name == "code-sample" && m.MountPath == "/home/ray/samples" {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("pod %s: no code-sample mount at /home/ray/samples: %+v", p.Name, c.VolumeMounts)
	}
	volume := false
	for _, v := range p.Spec.Volumes {
		if v.Name == "code-sample" && v.ConfigMap != nil && v.ConfigMap.Name == "ray-example" {
			volume = true
		}
	}
	if !volume {
		t.Errorf("pod %s: no ray-example ConfigMap volume", p.Name)
	}
	env := false
	for _, e := range c.Env {
		if e.Name == "MY_POD_IP" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "status.podIP" {
			env = true
		}
	}
	if !env {
		t.Errorf("pod %s: no MY_POD_IP env", p.Name)
	}
}

func TestRayClusterPodsCarryTheExpansion(t *testing.T) {
	ns := namespace(t, "e2e-raycluster")
	cluster := strings.Replace(readExample(t, "raycluster.yaml"), "minReplicas: 0, maxReplicas: 5,", "minReplicas: 0, maxReplicas: 5, replicas: 2,", 1)
	if !strings.Contains(cluster, "replicas: 2") {
		t.Fatal("example changed: cannot set replicas")
	}
	mustKubectl(t, cluster, "apply", "-n", ns, "-f", "-")

	var ps []corev1.Pod
	eventually(t, 90*time.Second, "head and 2 workers Running", func() (bool, string) {
		ps = pods(t, ns, "test-cluster")
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 2, summary(ps)
	})
	for _, p := range append(running(ps, "head"), running(ps, "worker")...) {
		checkRayContainer(t, p)
	}
	for _, w := range running(ps, "worker") {
		if w.Labels["ray.io/group"] != "small-wg" {
			t.Errorf("worker %s group = %q", w.Name, w.Labels["ray.io/group"])
		}
	}

	mustKubectl(t, "", "delete", "raycluster", "test-cluster", "-n", ns, "--wait=false")
	eventually(t, 90*time.Second, "pods garbage-collected after the RayCluster is deleted", func() (bool, string) {
		ps := pods(t, ns, "test-cluster")
		return len(ps) == 0, summary(ps)
	})
}

func TestRayJobAndRayServiceClustersCarryTheExpansion(t *testing.T) {
	ns := namespace(t, "e2e-job-service")
	job := `apiVersion: ray.io/v1
kind: RayJob
metadata:
  name: expand-job
  annotations:
    ray.io/compute-template: default-template
    raypilot.io/volumes: '[{name: code-sample, mountPath: /home/ray/samples, volumeType: CONFIGMAP, source: ray-example}]'
spec:
  entrypoint: python /home/ray/samples/detached_actor.py actor1
  rayClusterSpec:
    rayVersion: "2.9.0"
    headGroupSpec: {rayStartParams: {num-cpus: "0"}, template: {}}
    workerGroupSpecs:
    - {groupName: small-wg, minReplicas: 1, maxReplicas: 2, template: {}}
`
	service := `apiVersion: ray.io/v1
kind: RayService
metadata:
  name: expand-svc
  annotations:
    ray.io/compute-template: default-template
    raypilot.io/volumes: '[{name: code-sample, mountPath: /home/ray/samples, volumeType: CONFIGMAP, source: ray-example}]'
spec:
  serveConfigV2: |
    applications: []
  rayClusterConfig:
    rayVersion: "2.9.0"
    headGroupSpec: {template: {}}
`
	mustKubectl(t, job, "apply", "-n", ns, "-f", "-")
	mustKubectl(t, service, "apply", "-n", ns, "-f", "-")
	for _, owner := range []struct{ kind, name string }{{"RayJob", "expand-job"}, {"RayService", "expand-svc"}} {
		var head []corev1.Pod
		eventually(t, 90*time.Second, owner.kind+" cluster's head Running", func() (bool, string) {
			out := mustKubectl(t, "", "get", "pods", "-n", ns, "-l", "ray.io/node-type=head", "-o", "json")
			head = nil
			for _, p := range running(decode[corev1.PodList](t, out).Items, "head") {
				if strings.HasPrefix(p.Labels["ray.io/cluster"], owner.name) {
					head = append(head, p)
				}
			}
			return len(head) == 1, fmt.Sprint(len(head), " head pods")
		})
		checkRayContainer(t, head[0])
	}
}

func TestInvalidClusterIsRefusedAtAdmission(t *testing.T) {
	ns := namespace(t, "e2e-invalid")
	bad := `apiVersion: ray.io/v1
kind: RayCluster
metadata: {name: bad, annotations: {ray.io/compute-template: default-template}}
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - {groupName: small-wg, minReplicas: 0, maxReplicas: 5, template: {}}
  - {groupName: small-wg, minReplicas: 0, maxReplicas: 5, template: {}}
`
	_, errOut, err := kubectl(t, bad, "apply", "-n", ns, "-f", "-")
	if err == nil || !strings.Contains(errOut, `spec.workerGroupSpecs[1].groupName: Duplicate value: "small-wg"`) {
		t.Fatalf("duplicate group names: err %v, output %s", err, errOut)
	}
	if _, _, err := kubectl(t, "", "get", "raycluster", "bad", "-n", ns); err == nil {
		t.Error("the refused cluster was stored")
	}
}

func readExample(t *testing.T, name string) string {
	t.Helper()
	return mustRead(t, filepath.Join(repoRoot, "examples", name))
}
