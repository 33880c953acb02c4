package raysim

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ray-project/kuberay/ray-operator/controllers/ray/utils/dashboardclient"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb/nodeinfopb"
)

// servePod is a Running Ray pod of cluster team/demo at ip; a head carries
// KubeRay's dashboard and serve container ports.
func servePod(name, nodeType, ip string) *corev1.Pod {
	p := pod(name, map[bool]string{true: "headgroup", false: "small-wg"}[nodeType == "head"], nodeType, "2")
	p.Namespace = "team"
	p.Labels["ray.io/cluster"] = "demo"
	p.Status.PodIP = ip
	if nodeType == "head" {
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "gcs-server", ContainerPort: 6379},
			{Name: "dashboard", ContainerPort: 8265}, {Name: "serve", ContainerPort: 8000}}
	}
	return p
}

// viaProxy returns an HTTP client that, like the KubeRay operator started
// with HTTP_PROXY, sends every request to the dashboard proxy of s.
func viaProxy(t *testing.T, s *Sim) *http.Client {
	t.Helper()
	srv := httptest.NewServer(s.DashboardProxy())
	t.Cleanup(srv.Close)
	proxy, _ := url.Parse(srv.URL)
	return &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// serveConfigJSON turns a serveConfigV2 into the body KubeRay PUTs
// (rayservice_controller.go, updateServeDeployment: YAML to JSON).
func serveConfigJSON(t *testing.T, v2 string) []byte {
	t.Helper()
	data, err := yaml.YAMLToJSON([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

const dashboardURL = "http://demo-head-svc.team.svc.cluster.local:8265"

// KubeRay's own dashboard client deploys a Serve config through the proxy and
// reads the applications back RUNNING with their deployments HEALTHY; the
// Serve proxies answer their health check once Serve runs.
func TestDashboardServeThroughKubeRayClient(t *testing.T) {
	s := New(nil)
	head, worker := servePod("demo-head-x", "head", "10.0.0.5"), servePod("demo-small-wg-y", "worker", "10.0.0.6")
	s.SyncPods("team", "demo", []*corev1.Pod{head, worker})
	client := viaProxy(t, s)
	dc := &dashboardclient.RayDashboardClient{}
	dc.InitClient(client, dashboardURL)
	ctx := context.Background()

	apps, err := dc.GetMultiApplicationStatus(ctx)
	if err != nil || len(apps) != 0 {
		t.Fatalf("before a deploy: apps %v, err %v; want none", apps, err)
	}
	if code, body := get(t, client, "http://10.0.0.5:8000/-/healthz"); code != http.StatusBadGateway {
		t.Fatalf("proxy health before Serve started: %d %s, want 502 (nothing listens)", code, body)
	}

	cfg := serveConfigJSON(t, `
applications:
- name: fruit
  import_path: fruit.deployment_graph
  route_prefix: /fruit
  deployments:
  - {name: MangoStand, num_replicas: 2}
  - {name: FruitMarket}
- name: math
  import_path: conditional_dag.serve_dag
  route_prefix: /calc
`)
	if err := dc.UpdateDeployments(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	apps, err = dc.GetMultiApplicationStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(apps) != 2 || apps["fruit"] == nil || apps["math"] == nil {
		t.Fatalf("apps = %v, want fruit and math", apps)
	}
	fruit := apps["fruit"]
	if fruit.Status != "RUNNING" || fruit.Name != "fruit" || len(fruit.Deployments) != 2 ||
		fruit.Deployments["MangoStand"].Status != "HEALTHY" || fruit.Deployments["FruitMarket"].Status != "HEALTHY" {
		t.Errorf("fruit = %+v, want RUNNING with MangoStand and FruitMarket HEALTHY", fruit)
	}
	details, err := dc.GetServeDetails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if details.DeployMode != "MULTI_APP" || details.Applications["fruit"].RoutePrefix != "/fruit" {
		t.Errorf("details = %+v", details)
	}
	for _, ip := range []string{"10.0.0.5", "10.0.0.6"} {
		if code, body := get(t, client, "http://"+ip+":8000/-/healthz"); code != http.StatusOK || body != "success" {
			t.Errorf("proxy health of %s: %d %q, want 200 success", ip, code, body)
		}
	}

	// A redeploy without math deletes it (declarative: the config is the
	// whole set); an unchanged application keeps its deploy time.
	before := s.cluster("team", "demo").serve.apps["fruit"].deployedAt
	if err := dc.UpdateDeployments(ctx, serveConfigJSON(t, `
applications:
- name: fruit
  import_path: fruit.deployment_graph
  route_prefix: /fruit
  deployments:
  - {name: MangoStand, num_replicas: 2}
  - {name: FruitMarket}
`)); err != nil {
		t.Fatal(err)
	}
	if apps, _ = dc.GetMultiApplicationStatus(ctx); len(apps) != 1 || apps["fruit"] == nil {
		t.Errorf("after dropping math: %v", apps)
	}
	if after := s.cluster("team", "demo").serve.apps["fruit"].deployedAt; !after.Equal(before) {
		t.Errorf("unchanged fruit redeployed: %v → %v", before, after)
	}
}

func TestDashboardRejectsWhatRayRejects(t *testing.T) {
	s := New(nil)
	s.SyncPods("team", "demo", []*corev1.Pod{servePod("demo-head-x", "head", "10.0.0.5")})
	client := viaProxy(t, s)
	dc := &dashboardclient.RayDashboardClient{}
	dc.InitClient(client, dashboardURL)
	for _, bad := range []string{
		`{}`,
		`{"applications": [{"name": "a"}]}`,
		`{"applications": [{"name": "a", "import_path": "m.app"}, {"name": "a", "import_path": "m.app", "route_prefix": "/b"}]}`,
		`{"applications": [{"name": "a", "import_path": "m.app"}, {"name": "b", "import_path": "m.app"}]}`,
		`not json`,
	} {
		if err := dc.UpdateDeployments(context.Background(), []byte(bad)); err == nil || !strings.Contains(err.Error(), "400") {
			t.Errorf("PUT %s: err %v, want a 400", bad, err)
		}
	}
	if s.cluster("team", "demo").serve != nil {
		t.Error("a rejected config started Serve")
	}
	if code, body := get(t, client, dashboardURL+"/api/serve/applications/?api_type=bogus"); code != http.StatusBadRequest {
		t.Errorf("api_type=bogus: %d %s, want 400", code, body)
	}
}

// Where nothing would listen, the proxy answers 502 like an HTTP proxy whose
// upstream refused the connection.
func TestDashboardProxyBadGateway(t *testing.T) {
	s := New(nil)
	head, worker := servePod("demo-head-x", "head", "10.0.0.5"), servePod("demo-small-wg-y", "worker", "10.0.0.6")
	s.SyncPods("team", "demo", []*corev1.Pod{head, worker})
	client := viaProxy(t, s)
	dc := &dashboardclient.RayDashboardClient{}
	dc.InitClient(client, dashboardURL)
	if err := dc.UpdateDeployments(context.Background(), []byte(`{"applications": [{"import_path": "m.app"}]}`)); err != nil {
		t.Fatal(err)
	}
	if apps, err := dc.GetMultiApplicationStatus(context.Background()); err != nil || apps["default"] == nil {
		t.Fatalf("an unnamed application: %v %v, want it named default", apps, err)
	}
	for _, u := range []string{
		"http://other-head-svc.team.svc.cluster.local:8265/api/serve/applications/", // no such cluster
		"http://demo-head-svc.elsewhere.svc.cluster.local:8265/api/serve/applications/",
		"http://10.9.9.9:8000/-/healthz",                              // no such pod
		"http://10.0.0.6:8265/api/serve/applications/",                // a worker has no dashboard
		"http://10.0.0.5:6379/",                                       // not a port raysim answers over HTTP
		dashboardURL + "/api/jobs/",                                   // the job API is not simulated
		"http://10.0.0.5:8000/fruit",                                  // nor the applications themselves
		"http://example.com/",                                         // not a cluster at all
		"http://demo-serve-svc.team.svc.cluster.local:8000/-/healthz", // only head Services resolve
	} {
		if code, body := get(t, client, u); code != http.StatusBadGateway {
			t.Errorf("GET %s: %d %s, want 502", u, code, body)
		}
	}

	// A drained worker's raylet exited: its proxy with it.
	if _, err := (&nodeInfoService{sim: s}).DrainNode(callCtx("team", "demo"), &nodeinfopb.DrainNodeRequest{
		DrainNodeData: []*nodeinfopb.DrainNodeData{{NodeId: nodeID(string(worker.UID))}}}); err != nil {
		t.Fatal(err)
	}
	if code, _ := get(t, client, "http://10.0.0.6:8000/-/healthz"); code != http.StatusBadGateway {
		t.Errorf("proxy health of a drained node: %d, want 502", code)
	}
	// The pod stops running: its IP no longer resolves.
	s.SyncPods("team", "demo", []*corev1.Pod{head})
	if code, _ := get(t, client, "http://10.0.0.6:8000/-/healthz"); code != http.StatusBadGateway {
		t.Errorf("proxy health of a gone pod: %d, want 502", code)
	}

	// A new head pod (restart without GCS fault tolerance) has no Serve
	// applications; KubeRay redeploys when it sees none.
	newHead := servePod("demo-head-z", "head", "10.0.0.7")
	newHead.UID = types.UID("uid-new-head")
	s.SyncPods("team", "demo", []*corev1.Pod{newHead})
	if apps, err := dc.GetMultiApplicationStatus(context.Background()); err != nil || len(apps) != 0 {
		t.Errorf("after the head was replaced: %v %v, want no applications", apps, err)
	}
	if code, _ := get(t, client, "http://10.0.0.7:8000/-/healthz"); code != http.StatusBadGateway {
		t.Errorf("proxy health on the new head before a redeploy: %d, want 502", code)
	}
}
