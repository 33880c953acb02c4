package raysim

// The Ray dashboard's Serve API and the Serve HTTP proxy's health check, the
// two HTTP endpoints KubeRay's RayService controller talks to (KubeRay v1.5.0
// ray-operator/controllers/ray/rayservice_controller.go: reconcileServe reads
// and deploys applications through utils/dashboardclient/dashboard_httpclient.go,
// updateHeadPodServeLabel probes the head's proxy through
// utils/httpproxy_httpclient.go).
//
// The operator reaches them at http://<cluster>-head-svc.<ns>.svc.cluster.local:<dashboard port>
// and http://<pod IP>:<serve port>, addresses that do not exist on the local
// control plane. It is started with HTTP_PROXY pointing at DashboardProxy:
// its dashboard and proxy clients are plain http.Clients on Go's default
// transport (utils/util.go, GetRayDashboardClientFunc and
// GetRayHttpProxyClientFunc, when --use-kubernetes-proxy is off), which send
// every non-loopback http:// request to that proxy with its absolute URL.
// DashboardProxy maps the URL's host to a Ray pod and answers as the Ray
// process listening on that port would.
//
// What is modelled, and from where:
//   - GET /api/serve/applications/[?api_type=]: ServeInstanceDetails, Ray
//     python/ray/dashboard/modules/serve/serve_head.py get_serve_instance_details
//     and python/ray/serve/schema.py (ServeInstanceDetails, ApplicationDetails,
//     DeploymentDetails); before the first deploy, ServeInstanceDetails'
//     get_empty_schema_dict. An api_type other than imperative or declarative
//     is a 400, as in serve_head.py.
//   - PUT /api/serve/applications/: a ServeDeploySchema (schema.py) replaces
//     the cluster's declarative applications (Serve's deploy_apps: apps left
//     out of the config are deleted); a body that is not a ServeDeploySchema
//     is a 400 with the reason, as serve_head.py put_all_applications answers
//     a pydantic ValidationError. Each application is RUNNING and each
//     deployment it lists HEALTHY at once: raysim runs no replicas, so there
//     is no DEPLOYING phase and no replica details.
//   - DELETE /api/serve/applications/: serve.shutdown(), every application
//     gone (serve_head.py delete_serve_applications).
//   - GET /-/healthz on a pod's serve port: 200 "success" from a live node of
//     a cluster running Serve; Ray python/ray/serve/_private/proxy.py
//     (HEALTHY_MESSAGE). Serve starts a proxy per node with the default
//     proxy_location EveryNode; raysim places no replicas, so every live node
//     of the cluster has one.
//
// Where nothing would listen, the proxy answers 502 Bad Gateway, as an HTTP
// proxy does for a refused connection: a host that is no Ray pod (or whose
// pod is not Running), a port other than the pod's dashboard or serve port,
// the dashboard of a worker, the serve port before Serve started or of a
// node whose raylet was drained and exited. Serve state lives in the head
// (the GCS and the Serve controller): a new head pod (a restart without GCS
// fault tolerance) starts with no applications, which KubeRay detects and
// redeploys (rayservice_controller.go, checkIfNeedSubmitServeApplications).
//
// Not modelled, answered 502 like an unreachable dashboard (what the
// operator saw before raysim answered the dashboard at all): the rest of the
// dashboard API, among it the job API the RayJob controller polls (it keeps
// treating a RayJob's status as unknown, as before), and requests to the
// Serve applications themselves. Only one name per cluster resolves:
// <cluster>-head-svc.<namespace>.svc[.<domain>], as for the GCS (a custom
// headService.name does not).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
)

// Ports and names KubeRay uses (KubeRay v1.5.0
// ray-operator/controllers/ray/utils/constant.go).
const (
	dashboardPortName    = "dashboard"
	defaultDashboardPort = 8265
	servingPortName      = "serve"
	defaultServingPort   = 8000
	// defaultServeAppName is Serve's SERVE_DEFAULT_APP_NAME, the name of an
	// application the config does not name (Ray python/ray/serve/schema.py,
	// ServeApplicationSchema.name).
	defaultServeAppName = "default"
)

// rayPod is what the HTTP side needs of one Running Ray pod.
type rayPod struct {
	name          string
	uid           types.UID
	ip            string
	head          bool
	dashboardPort int
	servePort     int
}

// rayPodOf returns the rayPod of p; the ports are those KubeRay's
// utils.FindContainerPort finds on the Ray container (the first), else
// KubeRay's defaults.
func rayPodOf(p *corev1.Pod) rayPod {
	rp := rayPod{name: p.Name, uid: p.UID, ip: p.Status.PodIP, head: p.Labels["ray.io/node-type"] == "head",
		dashboardPort: defaultDashboardPort, servePort: defaultServingPort}
	if len(p.Spec.Containers) > 0 {
		for _, port := range p.Spec.Containers[0].Ports {
			switch port.Name {
			case dashboardPortName:
				rp.dashboardPort = int(port.ContainerPort)
			case servingPortName:
				rp.servePort = int(port.ContainerPort)
			}
		}
	}
	return rp
}

// serveInstance is the Serve state of one cluster once an application
// config was deployed.
type serveInstance struct {
	head           types.UID // the head pod Serve runs in
	body           []byte    // the last config deployed
	apps           map[string]*serveApp
	targetCapacity *float64
}

type serveApp struct {
	config     json.RawMessage // the application's config, as submitted
	deployedAt time.Time
	parsed     serveAppSchema
}

// ServeDeploySchema and ServeApplicationSchema (Ray python/ray/serve/schema.py),
// the fields raysim checks; the rest is kept as submitted.
type (
	serveDeploySchema struct {
		Applications   *[]json.RawMessage `json:"applications"`
		TargetCapacity *float64           `json:"target_capacity"`
	}
	serveAppSchema struct {
		Name        *string `json:"name"`
		RoutePrefix *string `json:"route_prefix"`
		ImportPath  *string `json:"import_path"`
		Deployments []struct {
			Name        string `json:"name"`
			NumReplicas any    `json:"num_replicas"`
		} `json:"deployments"`
	}
)

// The GET response: ServeInstanceDetails, ApplicationDetails and
// DeploymentDetails of Ray python/ray/serve/schema.py; KubeRay parses it into
// utils/types/serve_api_models.go ServeDetails.
type (
	serveInstanceDetails struct {
		ControllerInfo map[string]any                `json:"controller_info"`
		ProxyLocation  *string                       `json:"proxy_location,omitempty"`
		HTTPOptions    map[string]any                `json:"http_options,omitempty"`
		Proxies        map[string]proxyDetails       `json:"proxies"`
		DeployMode     string                        `json:"deploy_mode"`
		Applications   map[string]applicationDetails `json:"applications"`
		TargetCapacity *float64                      `json:"target_capacity"`
	}
	proxyDetails struct {
		NodeID         string `json:"node_id"`
		NodeIP         string `json:"node_ip"`
		NodeInstanceID string `json:"node_instance_id"`
		Status         string `json:"status"`
	}
	applicationDetails struct {
		Name                  string                       `json:"name"`
		RoutePrefix           *string                      `json:"route_prefix"`
		DocsPath              *string                      `json:"docs_path"`
		Status                string                       `json:"status"`
		Message               string                       `json:"message"`
		LastDeployedTimeS     float64                      `json:"last_deployed_time_s"`
		DeployedAppConfig     json.RawMessage              `json:"deployed_app_config"`
		Source                string                       `json:"source"`
		Deployments           map[string]deploymentDetails `json:"deployments"`
		ExternalScalerEnabled bool                         `json:"external_scaler_enabled"`
	}
	deploymentDetails struct {
		Name              string         `json:"name"`
		Status            string         `json:"status"`
		StatusTrigger     string         `json:"status_trigger"`
		Message           string         `json:"message"`
		DeploymentConfig  map[string]any `json:"deployment_config"`
		TargetNumReplicas int            `json:"target_num_replicas"`
		RequiredResources map[string]any `json:"required_resources"`
		Replicas          []any          `json:"replicas"`
	}
)

// target is where a proxied request lands.
type target struct {
	c   *cluster
	pod rayPod
}

// resolve maps a request's host to the Running Ray pod it addresses: a pod
// IP, or a cluster's head Service name (its head pod).
func (s *Sim) resolve(host string) (target, bool) {
	if ip := net.ParseIP(host); ip != nil {
		s.mu.Lock()
		cs := make([]*cluster, 0, len(s.clusters))
		for _, c := range s.clusters {
			cs = append(cs, c)
		}
		s.mu.Unlock()
		for _, c := range cs {
			c.mu.Lock()
			for _, p := range c.rayPods {
				if net.ParseIP(p.ip).Equal(ip) {
					c.mu.Unlock()
					return target{c, p}, true
				}
			}
			c.mu.Unlock()
		}
		return target{}, false
	}
	ns, name, err := gcsfake.ParseAuthority(host)
	if err != nil {
		return target{}, false
	}
	c := s.lookup(ns, name)
	if c == nil {
		return target{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.rayPods {
		if p.head {
			return target{c, p}, true
		}
	}
	return target{}, false
}

// DashboardProxy serves, as an HTTP forward proxy, the Ray dashboard's Serve
// API and the Serve proxies' health check of every cluster (see the top of
// this file). A request names its target in its absolute URL (or, sent
// directly, in its Host header).
func (s *Sim) DashboardProxy() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodConnect {
			badGateway(w, "raysim simulates plain http:// Ray endpoints only (no CONNECT)")
			return
		}
		hostport := r.URL.Host
		if hostport == "" {
			hostport = r.Host
		}
		host, portText, err := net.SplitHostPort(hostport)
		if err != nil {
			host, portText = hostport, "80"
		}
		port, _ := strconv.Atoi(portText)
		t, ok := s.resolve(host)
		if !ok {
			badGateway(w, fmt.Sprintf("no Running Ray pod answers at %s", hostport))
			return
		}
		switch {
		case t.pod.head && port == t.pod.dashboardPort:
			s.dashboard(w, r, t)
		case port == t.pod.servePort:
			s.serveProxy(w, r, t)
		default:
			badGateway(w, fmt.Sprintf("nothing listens on %s (pod %s)", hostport, t.pod.name))
		}
	})
}

func badGateway(w http.ResponseWriter, why string) {
	http.Error(w, "raysim: "+why, http.StatusBadGateway)
}

// serveProxy answers on a pod's serve port.
func (s *Sim) serveProxy(w http.ResponseWriter, r *http.Request, t target) {
	t.c.mu.Lock()
	running := t.c.serve != nil && !t.c.exited[t.pod.uid]
	t.c.mu.Unlock()
	if !running {
		badGateway(w, fmt.Sprintf("no Serve proxy runs on pod %s (Serve not started, or its raylet exited)", t.pod.name))
		return
	}
	if r.URL.Path != "/-/healthz" {
		badGateway(w, fmt.Sprintf("only the Serve proxy's /-/healthz is simulated, not %s", r.URL.Path))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("success"))
}

// dashboard answers on the head's dashboard port.
func (s *Sim) dashboard(w http.ResponseWriter, r *http.Request, t target) {
	if r.URL.Path != "/api/serve/applications/" {
		badGateway(w, fmt.Sprintf("only the dashboard's /api/serve/applications/ is simulated, not %s", r.URL.Path))
		return
	}
	switch r.Method {
	case http.MethodGet:
		apiType := strings.ToLower(r.URL.Query().Get("api_type"))
		if apiType != "" && apiType != "imperative" && apiType != "declarative" {
			http.Error(w, fmt.Sprintf("Invalid 'api_type' value: '%s'. Must be one of: imperative, declarative", r.URL.Query().Get("api_type")), http.StatusBadRequest)
			return
		}
		writeJSON(w, t.c.serveDetails(t.pod, apiType))
	case http.MethodPut:
		body, err := readBody(w, r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		changed, err := t.c.deployServe(t.pod, body, s.now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if changed {
			log.Printf("raysim: %s/%s: Serve config deployed through the dashboard: %s", t.c.namespace, t.c.name, body)
		}
		w.WriteHeader(http.StatusOK)
	case http.MethodDelete:
		t.c.mu.Lock()
		t.c.serve = nil
		t.c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, 4<<20)); err != nil {
		return nil, fmt.Errorf("reading the body: %w", err)
	}
	return buf.Bytes(), nil
}

// serveOf returns the cluster's Serve instance if it runs in head; c.mu held.
func (c *cluster) serveOf(head rayPod) *serveInstance {
	if c.serve != nil && c.serve.head != head.uid {
		c.serve = nil // the head was replaced: the GCS and Serve state went with it
	}
	return c.serve
}

// deployServe validates a ServeDeploySchema and makes its applications the
// cluster's declarative applications; changed is false when the same config
// was deployed before.
func (c *cluster) deployServe(head rayPod, body []byte, now time.Time) (changed bool, err error) {
	var cfg serveDeploySchema
	if err := json.Unmarshal(body, &cfg); err != nil {
		return false, fmt.Errorf("ValidationError: the body is not a ServeDeploySchema: %v", err)
	}
	if cfg.Applications == nil {
		return false, fmt.Errorf("ValidationError: applications: field required")
	}
	apps := map[string]*serveApp{}
	routes := map[string]string{}
	for i, raw := range *cfg.Applications {
		var a serveAppSchema
		if err := json.Unmarshal(raw, &a); err != nil {
			return false, fmt.Errorf("ValidationError: applications.%d: %v", i, err)
		}
		if a.ImportPath == nil || *a.ImportPath == "" {
			return false, fmt.Errorf("ValidationError: applications.%d.import_path: field required", i)
		}
		name := defaultServeAppName
		if a.Name != nil {
			name = *a.Name
		}
		if name == "" {
			return false, fmt.Errorf("ValidationError: applications: Application names must be nonempty.")
		}
		if _, dup := apps[name]; dup {
			return false, fmt.Errorf("ValidationError: applications: Found multiple configs for application %q. Please remove all duplicates.", name)
		}
		prefix := "/"
		if a.RoutePrefix != nil {
			prefix = *a.RoutePrefix
		}
		if other, dup := routes[prefix]; dup {
			return false, fmt.Errorf("ValidationError: applications: Found duplicate applications for route prefix %q (%s and %s). Please ensure each application's route_prefix is unique.", prefix, other, name)
		}
		routes[prefix] = name
		apps[name] = &serveApp{config: raw, deployedAt: now, parsed: a}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.serveOf(head)
	changed = old == nil || !bytes.Equal(old.body, body)
	if old != nil {
		// An unchanged application is not redeployed.
		for name, a := range apps {
			if prev, ok := old.apps[name]; ok && bytes.Equal(prev.config, a.config) {
				a.deployedAt = prev.deployedAt
			}
		}
	}
	c.serve = &serveInstance{head: head.uid, body: body, apps: apps, targetCapacity: cfg.TargetCapacity}
	return changed, nil
}

// serveDetails is GET /api/serve/applications/ for the cluster whose head is
// head; apiType filters by the API an application came from ("" all).
func (c *cluster) serveDetails(head rayPod, apiType string) serveInstanceDetails {
	c.mu.Lock()
	defer c.mu.Unlock()
	si := c.serveOf(head)
	if si == nil {
		// ServeInstanceDetails.get_empty_schema_dict: no Serve instance.
		return serveInstanceDetails{DeployMode: "MULTI_APP", ControllerInfo: map[string]any{},
			Proxies: map[string]proxyDetails{}, Applications: map[string]applicationDetails{}}
	}
	location := "EveryNode"
	out := serveInstanceDetails{
		DeployMode:     "MULTI_APP",
		ProxyLocation:  &location,
		HTTPOptions:    map[string]any{"host": "0.0.0.0", "port": defaultServingPort},
		Proxies:        map[string]proxyDetails{},
		Applications:   map[string]applicationDetails{},
		TargetCapacity: si.targetCapacity,
	}
	for _, n := range c.nodes {
		if n.dead {
			continue
		}
		id := fmt.Sprintf("%x", n.id)
		out.Proxies[id] = proxyDetails{NodeID: id, NodeIP: n.ip, NodeInstanceID: n.pod, Status: "HEALTHY"}
		if n.pod == head.name {
			out.ControllerInfo = map[string]any{"node_id": id, "node_ip": n.ip, "node_instance_id": n.pod,
				"actor_name": "SERVE_CONTROLLER_ACTOR"}
		}
	}
	if out.ControllerInfo == nil {
		out.ControllerInfo = map[string]any{}
	}
	if apiType == "imperative" {
		return out // every application raysim knows came from the declarative PUT
	}
	names := make([]string, 0, len(si.apps))
	for name := range si.apps {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		a := si.apps[name]
		prefix := "/"
		if a.parsed.RoutePrefix != nil {
			prefix = *a.parsed.RoutePrefix
		}
		d := applicationDetails{
			Name: name, RoutePrefix: &prefix, Status: "RUNNING",
			LastDeployedTimeS: float64(a.deployedAt.UnixMilli()) / 1000,
			DeployedAppConfig: a.config, Source: "declarative",
			Deployments: map[string]deploymentDetails{},
		}
		for _, dep := range a.parsed.Deployments {
			replicas := 1
			if n, ok := dep.NumReplicas.(float64); ok && n >= 0 {
				replicas = int(n)
			}
			d.Deployments[dep.Name] = deploymentDetails{
				Name: dep.Name, Status: "HEALTHY", StatusTrigger: "CONFIG_UPDATE_COMPLETED",
				DeploymentConfig: map[string]any{"name": dep.Name, "num_replicas": replicas},
				// Serve's default ray_actor_options: one CPU per replica.
				TargetNumReplicas: replicas, RequiredResources: map[string]any{"CPU": 1}, Replicas: []any{},
			}
		}
		out.Applications[name] = d
	}
	return out
}
