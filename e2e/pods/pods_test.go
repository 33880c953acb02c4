package pods

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"
)

const release = "raypilot-system"

// The chart's defaults reach Ready within 90 s of `helm install` (up --pods
// records how long `helm install --wait` took), both Deployments on the
// real node, the webhook configurations calling the Service.
func TestChartReadyOnRealNode(t *testing.T) {
	secs, err := os.ReadFile(filepath.Join(os.Getenv("RAYPILOT_CLUSTER_DIR"), "helm-install-seconds"))
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(secs)))
	t.Logf("helm install --wait (chart defaults, pods on the real node): %d s", n)
	if n > 90 {
		t.Errorf("helm install took %d s to Ready, want within 90 s", n)
	}
	for _, name := range []string{"raypilot-webhook", "raypilot-scaler"} {
		d := decode[appsv1.Deployment](t, kubectl(t, "", "-n", release, "get", "deployment", name, "-o", "json"))
		if d.Spec.Replicas == nil || d.Status.ReadyReplicas != *d.Spec.Replicas || *d.Spec.Replicas != 2 {
			t.Errorf("%s: %d/%v ready, want 2/2", name, d.Status.ReadyReplicas, d.Spec.Replicas)
		}
	}
	pods := decode[corev1.PodList](t, kubectl(t, "", "-n", release, "get", "pods", "-o", "json"))
	for _, p := range pods.Items {
		if p.Spec.NodeName != "raypilot-node" {
			t.Errorf("pod %s on node %q, want the real node", p.Name, p.Spec.NodeName)
		}
		projected := slices.ContainsFunc(p.Spec.Volumes, func(v corev1.Volume) bool { return v.Projected != nil })
		if !projected {
			t.Errorf("pod %s has no projected ServiceAccount token volume", p.Name)
		}
	}
	cc := kubectl(t, "", "get", "mutatingwebhookconfiguration", "raypilot", "-o", "jsonpath={.webhooks[0].clientConfig}")
	if !strings.Contains(cc, `"service"`) || strings.Contains(cc, `"url"`) {
		t.Errorf("webhook client config %s, want the chart's Service", cc)
	}
	if pdb := kubectl(t, "", "-n", release, "get", "pdb", "-o", "name"); !strings.Contains(pdb, "raypilot-webhook") {
		t.Errorf("no webhook PodDisruptionBudget: %q", pdb)
	}
}

// A compact RayCluster is expanded by the in-cluster webhook and handed to
// the in-cluster scaler.
func TestCompactRayClusterExpandedInCluster(t *testing.T) {
	ns := namespace(t, "pods-expand")
	kubectl(t, readExample(t), "apply", "-n", ns, "-f", "-")
	rc := decode[rayv1.RayCluster](t, kubectl(t, "", "-n", ns, "get", "raycluster", "test-cluster", "-o", "json"))
	checkExpanded(t, rc)
}

func checkExpanded(t *testing.T, rc rayv1.RayCluster) {
	t.Helper()
	if len(rc.Spec.HeadGroupSpec.Template.Spec.Containers) == 0 || len(rc.Spec.WorkerGroupSpecs) == 0 ||
		len(rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers) == 0 {
		t.Fatalf("not expanded: %+v", rc.Spec)
	}
	c := rc.Spec.WorkerGroupSpecs[0].Template.Spec.Containers[0]
	if c.Resources.Requests.Cpu().String() != "2" {
		t.Errorf("worker resources %v, want the compute template's cpu 2", c.Resources)
	}
	if rc.Annotations["raypilot.io/autoscaling"] != "central" || rc.Spec.EnableInTreeAutoscaling == nil || *rc.Spec.EnableInTreeAutoscaling {
		t.Errorf("not handed to the central scaler: annotations %v", rc.Annotations)
	}
}

func readExample(t *testing.T) string {
	data, err := os.ReadFile(filepath.Join(repoRoot, "examples", "raycluster.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// The seed's scale-up and scale-down, decided by the scaler pod (in-cluster
// config, projected token) talking to raysim across the pod network.
func TestSeedScaleUpAndDownInCluster(t *testing.T) {
	ns := namespace(t, "pods-seed")
	kubectl(t, readExample(t), "apply", "-n", ns, "-f", "-")
	eventually(t, 60*time.Second, "head Running, no worker", func() (bool, string) {
		ps := rayPods(t, ns)
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 0, fmt.Sprint(len(ps), " pods")
	})
	base := "/v1/clusters/" + ns + "/test-cluster"
	posted := time.Now()
	mustRaysim(t, "POST", base+"/actors", map[string]any{"name": "actor1", "resources": map[string]float64{"CPU": 1}})
	var worker corev1.Pod
	eventually(t, 20*time.Second, "small-wg replicas 1 and a worker Running", func() (bool, string) {
		ws := running(rayPods(t, ns), "worker")
		if len(ws) == 1 && replicas(t, ns) == 1 {
			worker = ws[0]
			return true, ""
		}
		return false, fmt.Sprint(len(ws), " workers")
	})
	t.Logf("reaction: actor posted → replicas 1 and worker Running in %s", time.Since(posted).Round(10*time.Millisecond))
	if worker.Spec.NodeName == "raypilot-node" {
		t.Errorf("Ray worker %s landed on the real node", worker.Name)
	}
	mustRaysim(t, "DELETE", base+"/actors/actor1", nil)
	freed := time.Now()
	eventually(t, 90*time.Second, "idle worker removed, replicas 0", func() (bool, string) {
		ws := running(rayPods(t, ns), "worker")
		return len(ws) == 0 && replicas(t, ns) == 0, fmt.Sprint(len(ws), " workers")
	})
	if idle := time.Since(freed); idle < 30*time.Second {
		t.Errorf("worker removed after %s idle, before idleTimeoutSeconds (30s)", idle)
	}
	reasons := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "involvedObject.kind=RayCluster", "-o", "jsonpath={range .items[*]}{.reason}: {.message}{\"\\n\"}{end}")
	for _, want := range []string{"ScaledUp: small-wg 0→1", "ScaledDown: small-wg 1→0"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("no event %q in %q", want, reasons)
		}
	}
}

// `helm upgrade` to a new image tag under steady creates (20/s, each through
// both webhooks) loses none: 2 replicas, maxUnavailable 0, the PDB and the
// preStop sleep keep one serving while the Service's endpoints move.
func TestUpgradeToNewImageTagLosesNoCreates(t *testing.T) {
	ns := namespace(t, "pods-upgrade")
	tag := "e2e-" + strconv.FormatInt(time.Now().Unix(), 36)
	tagImage(t, tag)
	load := startCreates(t, ns, createsPerSecond)
	time.Sleep(3 * time.Second)
	start := time.Now()
	helm(t, "upgrade", "raypilot", filepath.Join(repoRoot, "charts", "raypilot"), "-n", release,
		"--reuse-values", "--set", "image.tag="+tag, "--wait", "--timeout", "3m")
	t.Logf("helm upgrade --wait to tag %s: %s", tag, time.Since(start).Round(time.Second))
	// Old pods finish terminating (preStop 5 s, graceful shutdown) while creates go on.
	eventually(t, 90*time.Second, "only new-tag webhook pods left", func() (bool, string) {
		imgs := kubectl(t, "", "-n", release, "get", "pods", "-l", "app.kubernetes.io/component=webhook", "-o", "jsonpath={range .items[*]}{.spec.containers[0].image} {end}")
		f := strings.Fields(imgs)
		return len(f) == 2 && !slices.ContainsFunc(f, func(s string) bool { return !strings.HasSuffix(s, ":"+tag) }), imgs
	})
	time.Sleep(3 * time.Second)
	ok, failed := load()
	t.Logf("creates during the upgrade: %d admitted, %d failed", ok, len(failed))
	if len(failed) > 0 {
		t.Errorf("%d of %d creates lost during helm upgrade: %s", len(failed), ok+len(failed), strings.Join(failed[:min(5, len(failed))], "; "))
	}
	if ok < 100 {
		t.Errorf("only %d creates admitted: load too thin to mean anything", ok)
	}
}

// Deleting the webhook pod that holds the certificate Lease (the writer of
// the Secret and the caBundle) keeps admission serving: the other replica
// serves, and takes the Lease.
func TestDeleteCertLeaseHolderKeepsServing(t *testing.T) {
	ns := namespace(t, "pods-lease")
	holder := leaseHolder(t)
	pod := holder[:strings.LastIndex(holder, "_")]
	t.Logf("certificate Lease held by %s", holder)
	load := startCreates(t, ns, createsPerSecond)
	time.Sleep(2 * time.Second)
	kubectl(t, "", "-n", release, "delete", "pod", pod, "--wait=true", "--timeout", "90s")
	eventually(t, 60*time.Second, "another pod holds the Lease", func() (bool, string) {
		h := leaseHolder(t)
		return h != "" && !strings.HasPrefix(h, pod+"_"), h
	})
	eventually(t, 90*time.Second, "webhook Deployment 2/2 ready again", func() (bool, string) {
		d := decode[appsv1.Deployment](t, kubectl(t, "", "-n", release, "get", "deployment", "raypilot-webhook", "-o", "json"))
		return d.Status.ReadyReplicas == 2 && d.Status.Replicas == 2, fmt.Sprint(d.Status.ReadyReplicas, "/", d.Status.Replicas)
	})
	time.Sleep(2 * time.Second)
	ok, failed := load()
	t.Logf("creates while the Lease holder went: %d admitted, %d failed; Lease now %s", ok, len(failed), leaseHolder(t))
	if len(failed) > 0 {
		t.Errorf("%d of %d creates lost: %s", len(failed), ok+len(failed), strings.Join(failed[:min(5, len(failed))], "; "))
	}
}

func leaseHolder(t *testing.T) string {
	t.Helper()
	l := decode[coordinationv1.Lease](t, kubectl(t, "", "-n", release, "get", "lease", "raypilot-webhook-tls-writer", "-o", "json"))
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// tagImage gives the imported raypilot image another tag in the node's
// containerd (no registry: a `helm upgrade` to it must find it there).
func tagImage(t *testing.T, tag string) {
	t.Helper()
	out, err := run(t, "", "ctr", "-a", containerd, "-n", "k8s.io", "images", "ls", "-q")
	if err != nil {
		t.Fatal(err)
	}
	chart := kubectl(t, "", "-n", release, "get", "deployment", "raypilot-webhook", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
	var src string
	for _, ref := range strings.Fields(out) {
		if strings.HasSuffix(ref, "/"+chart) {
			src = ref
		}
	}
	if src == "" {
		t.Fatalf("no image %s in containerd: %s", chart, out)
	}
	if _, err := run(t, "", "ctr", "-a", containerd, "-n", "k8s.io", "images", "tag", "--force", src, src[:strings.LastIndex(src, ":")+1]+tag); err != nil {
		t.Fatal(err)
	}
}

// createsPerSecond is the admission load kept up while webhook pods are
// replaced: 20 creates a second, each through both webhooks.
const createsPerSecond = 20

// startCreates creates the seed's compact RayCluster (server-side dry run:
// admitted by both webhooks, nothing stored) perSecond times a second until
// the returned function is called; it gives the admitted count and the
// failures. Each admitted object must come back expanded.
func startCreates(t *testing.T, ns string, perSecond int) func() (int, []string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 100, 100
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var obj unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(readExample(t)), &obj.Object); err != nil {
		t.Fatal(err)
	}
	res := dc.Resource(schema.GroupVersionResource{Group: "ray.io", Version: "v1", Resource: "rayclusters"}).Namespace(ns)
	var (
		mu     sync.Mutex
		ok     int
		failed []string
		wg     sync.WaitGroup
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second / time.Duration(perSecond))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			o := obj.DeepCopy()
			o.SetName(fmt.Sprintf("load-%d", i))
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				at := time.Now().Format("15:04:05.000")
				got, err := res.Create(ctx, o, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, at+" "+err.Error())
					return
				}
				if c, _, _ := unstructured.NestedSlice(got.Object, "spec", "headGroupSpec", "template", "spec", "containers"); len(c) == 0 {
					failed = append(failed, at+" admitted unexpanded")
					return
				}
				ok++
			}()
		}
	}()
	var once sync.Once
	finish := func() {
		once.Do(func() {
			close(stop)
			<-done
			wg.Wait()
		})
	}
	t.Cleanup(finish)
	return func() (int, []string) {
		finish()
		mu.Lock()
		defer mu.Unlock()
		return ok, failed
	}
}

func rayPods(t *testing.T, ns string) []corev1.Pod {
	t.Helper()
	return decode[corev1.PodList](t, kubectl(t, "", "get", "pods", "-n", ns, "-l", "ray.io/cluster=test-cluster", "-o", "json")).Items
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

func replicas(t *testing.T, ns string) int32 {
	t.Helper()
	rc := decode[rayv1.RayCluster](t, kubectl(t, "", "-n", ns, "get", "raycluster", "test-cluster", "-o", "json"))
	if len(rc.Spec.WorkerGroupSpecs) != 1 || rc.Spec.WorkerGroupSpecs[0].Replicas == nil {
		return -1
	}
	return *rc.Spec.WorkerGroupSpecs[0].Replicas
}

func mustRaysim(t *testing.T, method, path string, body any) []byte {
	t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = strings.NewReader(string(data))
	}
	req, err := http.NewRequest(method, raysimURL+path, r)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("raysim %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("raysim %s %s: %d %s", method, path, resp.StatusCode, out)
	}
	return out
}
