package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
)

// Ray Serve on the local control plane. KubeRay creates a cluster's serve
// Service (<cluster>-serve-svc, the head container's port named "serve")
// when the RayCluster asks for it; for a RayService it also needs the Ray
// dashboard's Serve API and the head's Serve proxy health check, which
// raysim answers behind the operator's HTTP_PROXY (e2e/raysim/dashboard.go).

// serveService waits for Service name in ns to exist with a port named serve.
func serveService(t *testing.T, ns, name string, timeout time.Duration, diag func() string) corev1.Service {
	t.Helper()
	var svc corev1.Service
	eventually(t, timeout, "Service "+name+" with a port named serve", func() (bool, string) {
		out, errOut, err := kubectl(t, "", "get", "service", name, "-n", ns, "-o", "json")
		if err != nil {
			return false, strings.TrimSpace(errOut) + "; " + diag()
		}
		svc = decode[corev1.Service](t, out)
		for _, p := range svc.Spec.Ports {
			if p.Name == "serve" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("ports %+v; %s", svc.Spec.Ports, diag())
	})
	return svc
}

// warnings are the namespace's Warning events, for failure messages (for
// example KubeRay's "Please specify the port named 'serve' in the Ray head
// container").
func warnings(t *testing.T, ns string) string {
	t.Helper()
	out, _, err := kubectl(t, "", "get", "events", "-n", ns, "--field-selector", "type=Warning", "-o", "json")
	if err != nil {
		return "events: " + err.Error()
	}
	var s []string
	for _, e := range decode[corev1.EventList](t, out).Items {
		s = append(s, fmt.Sprintf("%s %s/%s: %s", e.Reason, e.InvolvedObject.Kind, e.InvolvedObject.Name, e.Message))
	}
	if len(s) > 3 {
		s = s[len(s)-3:]
	}
	return "warnings: [" + strings.Join(s, " | ") + "]"
}

func TestServeRayClusterGetsServeService(t *testing.T) {
	ns := namespace(t, "e2e-serve-cluster")
	start := time.Now()
	mustKubectl(t, `apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: serve-cluster
  annotations:
    ray.io/compute-template: default-template
    ray.io/enable-serve-service: "true"
spec:
  rayVersion: "2.9.0"
  headGroupSpec: {template: {}}
  workerGroupSpecs:
  - {groupName: small-wg, minReplicas: 1, maxReplicas: 2, template: {}}
`, "apply", "-n", ns, "-f", "-")

	eventually(t, 90*time.Second, "head and worker Running", func() (bool, string) {
		ps := pods(t, ns, "serve-cluster")
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 1, summary(ps)
	})
	svc := serveService(t, ns, "serve-cluster-serve-svc", 60*time.Second, func() string { return warnings(t, ns) })
	if svc.Spec.Selector["ray.io/cluster"] != "serve-cluster" {
		t.Errorf("serve Service selector = %v, want ray.io/cluster: serve-cluster", svc.Spec.Selector)
	}
	t.Logf("RayCluster with the serve Service: pods Running and %s created in %s", svc.Name, time.Since(start).Round(100*time.Millisecond))
}

func TestServeRayServiceBecomesReady(t *testing.T) {
	ns := namespace(t, "e2e-serve-service")
	start := time.Now()
	mustKubectl(t, `apiVersion: ray.io/v1
kind: RayService
metadata:
  name: fruit
  annotations:
    ray.io/compute-template: default-template
spec:
  serveConfigV2: |
    applications:
    - name: fruit_app
      import_path: fruit.deployment_graph
      route_prefix: /fruit
      deployments:
      - {name: MangoStand, num_replicas: 1}
  rayClusterConfig:
    rayVersion: "2.9.0"
    headGroupSpec: {template: {}}
    workerGroupSpecs:
    - {groupName: small-wg, minReplicas: 1, maxReplicas: 2, template: {}}
`, "apply", "-n", ns, "-f", "-")

	getService := func() rayv1.RayService {
		return decode[rayv1.RayService](t, mustKubectl(t, "", "get", "rayservice", "fruit", "-n", ns, "-o", "json"))
	}
	// The operator creates the RayService's RayCluster (fruit-<suffix>); the
	// webhook admits it (already expanded, from spec.rayClusterConfig).
	var cluster string
	eventually(t, 60*time.Second, "the RayService's RayCluster", func() (bool, string) {
		out := mustKubectl(t, "", "get", "rayclusters", "-n", ns, "-o", "json")
		items := decode[rayv1.RayClusterList](t, out).Items
		if len(items) != 1 {
			return false, fmt.Sprintf("%d RayClusters; %s", len(items), warnings(t, ns))
		}
		cluster = items[0].Name
		return true, ""
	})
	eventually(t, 90*time.Second, "head and worker Running", func() (bool, string) {
		ps := pods(t, ns, cluster)
		return len(running(ps, "head")) == 1 && len(running(ps, "worker")) == 1, summary(ps)
	})
	podsAt := time.Since(start)

	state := func() string {
		rs := getService()
		return fmt.Sprintf("serviceStatus %q, conditions %v, active %q apps %v, pending %q, endpoints %d; %s",
			rs.Status.ServiceStatus, rs.Status.Conditions, rs.Status.ActiveServiceStatus.RayClusterName,
			rs.Status.ActiveServiceStatus.Applications, rs.Status.PendingServiceStatus.RayClusterName,
			rs.Status.NumServeEndpoints, warnings(t, ns))
	}
	serveService(t, ns, "fruit-serve-svc", 90*time.Second, state)
	// What KubeRay v1.5.0 computes once the services exist
	// (rayservice_controller.go, calculateStatus and calculateConditions):
	// the pending cluster promoted to active, its Serve applications copied
	// into the status, the Ready condition true once the serve Service has
	// endpoints, and serviceStatus Running with it.
	eventually(t, 60*time.Second, "RayService Ready and Running", func() (bool, string) {
		rs := getService()
		ready := meta.IsStatusConditionTrue(rs.Status.Conditions, string(rayv1.RayServiceReady))
		return ready && rs.Status.ServiceStatus == rayv1.Running && rs.Status.ActiveServiceStatus.RayClusterName == cluster, state()
	})
	readyAt := time.Since(start)

	rs := getService()
	app, ok := rs.Status.ActiveServiceStatus.Applications["fruit_app"]
	if !ok || app.Status != rayv1.ApplicationStatusEnum.RUNNING {
		t.Errorf("application fruit_app = %+v (present %v), want RUNNING", app, ok)
	}
	if d := app.Deployments["MangoStand"]; d.Status != rayv1.DeploymentStatusEnum.HEALTHY {
		t.Errorf("deployment MangoStand = %+v, want HEALTHY", d)
	}
	if rs.Status.NumServeEndpoints < 1 {
		t.Errorf("numServeEndpoints = %d", rs.Status.NumServeEndpoints)
	}
	if rs.Status.PendingServiceStatus.RayClusterName != "" {
		t.Errorf("a pending cluster remains: %q", rs.Status.PendingServiceStatus.RayClusterName)
	}
	// The head joins the serve Service only after its Serve proxy passed the
	// health check (rayservice_controller.go, updateHeadPodServeLabel).
	head := running(pods(t, ns, cluster), "head")
	if len(head) != 1 || head[0].Labels["ray.io/serve"] != "true" {
		t.Errorf("head pod serve label: %v", head)
	}
	if _, errOut, err := kubectl(t, "", "get", "service", "fruit-head-svc", "-n", ns); err != nil {
		t.Errorf("the RayService's head Service: %v %s", err, errOut)
	}
	t.Logf("RayService: head and worker Running after %s, Ready and Running after %s",
		podsAt.Round(100*time.Millisecond), readyAt.Round(100*time.Millisecond))
}
