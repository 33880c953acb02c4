package chart

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// watchedNamespaceNames are the namespaces watchedNamespaces watches; the
// server dry run and the RBAC test create them (Roles live there).
var watchedNamespaceNames = []string{"team-a", "team-b"}

// everyValue sets every value the chart offers for common chart conventions
// to something other than its default (watchNamespaces apart: see
// watchedNamespaces), with the optional objects on.
func everyValue(t *testing.T) []string {
	return valuesFile(t, `
global: {imageRegistry: "registry.example:5000"}
logging: {format: console, level: warn}
commonLabels: {team: ml, cost-center: "42"}
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
rbac: {aggregateClusterRoles: true}
certManager: {enabled: true}
networkPolicy: {enabled: true, apiServer: {ports: [6443], cidrs: [10.0.0.1/32, "fd00::1/128"]}, rayGCSPorts: [6379, 16379]}
metrics:
  serviceMonitor:
    enabled: true
    namespace: monitoring
    relabelings: [{action: replace, targetLabel: cluster, replacement: prod}]
    metricRelabelings: [{action: drop, sourceLabels: [__name__], regex: "go_.*"}]
  prometheusRule: {enabled: true, namespace: monitoring, labels: {release: prometheus}}
  grafanaDashboard: {enabled: true}
webhook:
  podLabels: {cost-center: "7"}
  podAnnotations: {note: webhook}
  affinity:
    podAntiAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 10
        podAffinityTerm: {topologyKey: topology.kubernetes.io/zone, labelSelector: {matchLabels: {app: other}}}
  topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}]
  podSecurityContext: {runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000}
  securityContext: {privileged: false}
  serviceAccount: {annotations: {example.com/role: webhook}}
  namespaceSelector: {matchLabels: {ray: enabled}, matchExpressions: [{key: tier, operator: NotIn, values: [dev]}]}
  objectSelector: {matchExpressions: [{key: raypilot.io/skip, operator: DoesNotExist}]}
  matchConditions: [{name: not-kube-system-user, expression: "!request.userInfo.username.startsWith('system:kube-')"}]
  configurationAnnotations: {owner: platform}
scaler:
  rayAuthTokenSecrets: true
  rayKubernetesAuth: {enabled: true, serviceAccount: {name: ray-client-of-team, annotations: {example.com/role: ray}}}
  topologySpreadConstraints: [{maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, labelSelector: {matchLabels: {app: mine}}}]
  podSecurityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}
  securityContext: {capabilities: {drop: [ALL]}}
  serviceAccount: {name: scaler-of-team, annotations: {example.com/role: scaler}}
`)
}

// watchedNamespaces serves two namespaces only, ConfigMap templates off.
func watchedNamespaces(t *testing.T) []string {
	return valuesFile(t, `
watchNamespaces: [team-a, team-b]
policy: {limits: {readAPIServerConfigMaps: false}}
networkPolicy: {enabled: true}
scaler:
  rayAuthTokenSecrets: true
  rayKubernetesAuth: {enabled: true}
`)
}

// createNamespaces creates namespaces that may already exist.
func createNamespaces(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range append(slices.Clone(names), "monitoring") {
		if out, err := kubectl([]byte("apiVersion: v1\nkind: Namespace\nmetadata: {name: "+n+"}\n"), "apply", "-f", "-"); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
}

func appVersion(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct{ AppVersion string }
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	return chart.AppVersion
}

func TestImageReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("ab", 32)
	v := appVersion(t)
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"defaults", nil, "raypilot/raypilot:" + v},
		{"tag", []string{"--set", "image.tag=v9"}, "raypilot/raypilot:v9"},
		{"registry", []string{"--set", "image.registry=registry.example:5000"}, "registry.example:5000/raypilot/raypilot:" + v},
		{"global registry", []string{"--set", "global.imageRegistry=registry.example"}, "registry.example/raypilot/raypilot:" + v},
		{"own registry over the global one", []string{"--set", "global.imageRegistry=registry.example", "--set", "image.registry=mirror.example"},
			"mirror.example/raypilot/raypilot:" + v},
		{"digest over tag", []string{"--set", "image.tag=v9", "--set", "image.digest=" + digest}, "raypilot/raypilot@" + digest},
		{"registry and digest", []string{"--set", "image.registry=registry.example", "--set", "image.repository=team/raypilot", "--set", "image.digest=" + digest},
			"registry.example/team/raypilot@" + digest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, "raypilot", tc.flags...)
			for _, d := range []struct{ deployment, container string }{{"raypilot-webhook", "webhook"}, {"raypilot-scaler", "scaler"}} {
				if got := container(t, deployment(t, r, d.deployment), d.container).Image; got != tc.want {
					t.Errorf("%s image %q, want %q", d.deployment, got, tc.want)
				}
			}
		})
	}
}

// TestCommonLabels: commonLabels reach every rendered object and both pod
// templates; a component's podLabels win over them on its pods; selectors
// stay the chart's.
func TestCommonLabels(t *testing.T) {
	r := render(t, "raypilot", everyValue(t)...)
	for _, o := range r.objs {
		l := o.GetLabels()
		if l["team"] != "ml" || l["cost-center"] != "42" {
			t.Errorf("%s/%s labels %v lack commonLabels", o.GetKind(), o.GetName(), l)
		}
		if l["app.kubernetes.io/instance"] != "raypilot" || l["helm.sh/chart"] == "" {
			t.Errorf("%s/%s lost the chart's labels: %v", o.GetKind(), o.GetName(), l)
		}
	}
	if r.find(t, "ServiceMonitor", "raypilot").GetLabels()["app.kubernetes.io/component"] != "" {
		t.Errorf("the ServiceMonitor covers both components; it got a component label")
	}
	if r.find(t, "PrometheusRule", "raypilot").GetLabels()["release"] != "prometheus" {
		t.Errorf("metrics.prometheusRule.labels not on the PrometheusRule")
	}
	wd, sd := deployment(t, r, "raypilot-webhook"), deployment(t, r, "raypilot-scaler")
	if l := wd.Spec.Template.Labels; l["team"] != "ml" || l["cost-center"] != "7" || wd.Spec.Template.Annotations["note"] != "webhook" {
		t.Errorf("webhook pod labels %v annotations %v: want commonLabels, podLabels winning, podAnnotations", l, wd.Spec.Template.Annotations)
	}
	if l := sd.Spec.Template.Labels; l["team"] != "ml" || l["cost-center"] != "42" {
		t.Errorf("scaler pod labels %v lack commonLabels", l)
	}
	for _, d := range []struct {
		sel       map[string]string
		component string
	}{{wd.Spec.Selector.MatchLabels, "webhook"}, {sd.Spec.Selector.MatchLabels, "scaler"}} {
		if len(d.sel) != 3 || d.sel["app.kubernetes.io/component"] != d.component {
			t.Errorf("%s selector %v, want the three selector labels only", d.component, d.sel)
		}
	}
}

// TestSecurityContexts: the defaults are the hardened contexts the image
// needs (non-root 65532, read-only root, no privilege escalation, no
// capabilities, RuntimeDefault seccomp); values merge into them per
// component.
func TestSecurityContexts(t *testing.T) {
	wantPod := corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](65532), RunAsGroup: ptr.To[int64](65532),
		FSGroup: ptr.To[int64](65532), SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}}
	wantContainer := corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(false), ReadOnlyRootFilesystem: ptr.To(true),
		Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}}}
	r := render(t, "raypilot")
	for _, d := range []struct{ deployment, container string }{{"raypilot-webhook", "webhook"}, {"raypilot-scaler", "scaler"}} {
		dep := deployment(t, r, d.deployment)
		if got := dep.Spec.Template.Spec.SecurityContext; !reflect.DeepEqual(got, &wantPod) {
			t.Errorf("%s pod securityContext %+v, want %+v", d.deployment, got, wantPod)
		}
		if got := container(t, dep, d.container).SecurityContext; !reflect.DeepEqual(got, &wantContainer) {
			t.Errorf("%s container securityContext %+v, want %+v", d.deployment, got, wantContainer)
		}
	}
	r = render(t, "raypilot", "--set", "webhook.podSecurityContext.runAsUser=1000", "--set", "scaler.securityContext.readOnlyRootFilesystem=false")
	wd, sd := deployment(t, r, "raypilot-webhook"), deployment(t, r, "raypilot-scaler")
	if sc := wd.Spec.Template.Spec.SecurityContext; *sc.RunAsUser != 1000 || !*sc.RunAsNonRoot || *sc.FSGroup != 65532 {
		t.Errorf("webhook.podSecurityContext.runAsUser did not merge into the defaults: %+v", sc)
	}
	if sc := sd.Spec.Template.Spec.SecurityContext; *sc.RunAsUser != 65532 {
		t.Errorf("the webhook's value reached the scaler: %+v", sc)
	}
	if sc := container(t, sd, "scaler").SecurityContext; *sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || len(sc.Capabilities.Drop) != 1 {
		t.Errorf("scaler.securityContext.readOnlyRootFilesystem did not merge into the defaults: %+v", sc)
	}
}

// TestTopologySpreadConstraints: a constraint without a labelSelector
// spreads the component's own pods; one with a labelSelector keeps it.
func TestTopologySpreadConstraints(t *testing.T) {
	r := render(t, "raypilot", everyValue(t)...)
	wc := deployment(t, r, "raypilot-webhook").Spec.Template.Spec.TopologySpreadConstraints
	if len(wc) != 1 || wc[0].TopologyKey != "topology.kubernetes.io/zone" || wc[0].WhenUnsatisfiable != corev1.ScheduleAnyway || wc[0].LabelSelector == nil ||
		!labelsMatch(wc[0].LabelSelector.MatchLabels, deployment(t, r, "raypilot-webhook").Spec.Template.Labels) ||
		wc[0].LabelSelector.MatchLabels["app.kubernetes.io/component"] != "webhook" {
		t.Errorf("webhook topologySpreadConstraints %+v: want the zone constraint over the webhook pods", wc)
	}
	sc := deployment(t, r, "raypilot-scaler").Spec.Template.Spec.TopologySpreadConstraints
	if len(sc) != 1 || sc[0].LabelSelector == nil || !reflect.DeepEqual(sc[0].LabelSelector.MatchLabels, map[string]string{"app": "mine"}) {
		t.Errorf("scaler topologySpreadConstraints %+v: the user's labelSelector must stay", sc)
	}
	if c := deployment(t, render(t, "raypilot"), "raypilot-webhook").Spec.Template.Spec.TopologySpreadConstraints; c != nil {
		t.Errorf("defaults render topologySpreadConstraints %+v", c)
	}
}

// TestServiceAccountValues: names, annotations and create=false reach the
// pods, the bindings and the scaler's Ray client flag and token rule.
func TestServiceAccountValues(t *testing.T) {
	r := render(t, "raypilot", everyValue(t)...)
	if r.lookup("ServiceAccount", "raypilot-scaler") != nil || r.lookup("ServiceAccount", "scaler-of-team") == nil {
		t.Errorf("scaler.serviceAccount.name: have %s", r.names())
	}
	if a := r.find(t, "ServiceAccount", "raypilot-webhook").GetAnnotations()["example.com/role"]; a != "webhook" {
		t.Errorf("webhook.serviceAccount.annotations not on the ServiceAccount")
	}
	rc := as[corev1.ServiceAccount](t, r.find(t, "ServiceAccount", "ray-client-of-team"))
	if rc.Annotations["example.com/role"] != "ray" || rc.AutomountServiceAccountToken == nil || *rc.AutomountServiceAccountToken {
		t.Errorf("Ray client ServiceAccount %+v: want the annotation and no mounted token", rc.ObjectMeta)
	}
	sd := deployment(t, r, "raypilot-scaler")
	if sd.Spec.Template.Spec.ServiceAccountName != "scaler-of-team" {
		t.Errorf("scaler pods run as %q", sd.Spec.Template.Spec.ServiceAccountName)
	}
	if v, _ := flagValue(container(t, sd, "scaler").Args, "ray-client-service-account"); v != releaseNamespace+"/ray-client-of-team" {
		t.Errorf("--ray-client-service-account=%s", v)
	}
	subjects := map[string]string{} // binding name -> subject
	for _, kind := range []string{"RoleBinding", "ClusterRoleBinding"} {
		for _, o := range r.ofKind(kind) {
			s, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			subjects[kind+"/"+o.GetName()] = s[0].(map[string]any)["name"].(string)
		}
	}
	for binding, want := range map[string]string{
		"ClusterRoleBinding/raypilot-scaler": "scaler-of-team", "RoleBinding/raypilot-scaler": "scaler-of-team",
		"ClusterRoleBinding/raypilot-webhook": "raypilot-webhook", "ClusterRoleBinding/raypilot-ray-client": "ray-client-of-team",
	} {
		if subjects[binding] != want {
			t.Errorf("%s binds %q, want %q", binding, subjects[binding], want)
		}
	}
	tokenRule := false
	for _, rule := range roleRules(t, r.find(t, "Role", "raypilot-scaler")) {
		if slices.Contains(rule.Resources, "serviceaccounts/token") {
			tokenRule = slices.Equal(rule.ResourceNames, []string{"ray-client-of-team"})
		}
	}
	if !tokenRule {
		t.Errorf("the scaler may not create tokens of the renamed Ray client ServiceAccount")
	}
	r = render(t, "raypilot", "--set", "webhook.serviceAccount.create=false", "--set", "scaler.rayKubernetesAuth.enabled=true",
		"--set", "scaler.rayKubernetesAuth.serviceAccount.create=false")
	if r.lookup("ServiceAccount", "raypilot-webhook") != nil || r.lookup("ServiceAccount", "raypilot-ray-client") != nil {
		t.Errorf("serviceAccount.create=false still renders the ServiceAccount")
	}
	if deployment(t, r, "raypilot-webhook").Spec.Template.Spec.ServiceAccountName != "raypilot-webhook" {
		t.Errorf("create=false without a name: the pods must run as the default name")
	}
	r.find(t, "ClusterRoleBinding", "raypilot-ray-client")
}

// TestWebhookConfigurationValues: both configurations get the user's
// selectors, conditions and annotations, after the chart's exclusions.
func TestWebhookConfigurationValues(t *testing.T) {
	r := render(t, "raypilot", everyValue(t)...)
	type hook struct {
		ns, obj    *metav1.LabelSelector
		conditions []admissionv1.MatchCondition
	}
	m, v := mutating(t, r, "raypilot"), validating(t, r, "raypilot")
	for name, w := range map[string]hook{
		"mutating":   {m.Webhooks[0].NamespaceSelector, m.Webhooks[0].ObjectSelector, m.Webhooks[0].MatchConditions},
		"validating": {v.Webhooks[0].NamespaceSelector, v.Webhooks[0].ObjectSelector, v.Webhooks[0].MatchConditions},
	} {
		e := w.ns.MatchExpressions
		if len(e) != 2 || e[0].Operator != "NotIn" || !slices.Equal(e[0].Values, []string{"kube-system", releaseNamespace}) ||
			e[1].Key != "tier" || !reflect.DeepEqual(w.ns.MatchLabels, map[string]string{"ray": "enabled"}) {
			t.Errorf("%s namespaceSelector %+v: want the exclusions, then tier NotIn [dev], matchLabels ray=enabled", name, w.ns)
		}
		if w.obj == nil || len(w.obj.MatchExpressions) != 1 || w.obj.MatchExpressions[0].Key != "raypilot.io/skip" {
			t.Errorf("%s objectSelector %+v", name, w.obj)
		}
		if len(w.conditions) != 1 || w.conditions[0].Name != "not-kube-system-user" {
			t.Errorf("%s matchConditions %+v", name, w.conditions)
		}
	}
	for _, kind := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		a := r.find(t, kind, "raypilot").GetAnnotations()
		if a["owner"] != "platform" || a["cert-manager.io/inject-ca-from"] != releaseNamespace+"/raypilot-webhook" {
			t.Errorf("%s annotations %v: want configurationAnnotations and cainjector's", kind, a)
		}
	}
	dm := mutating(t, render(t, "raypilot"), "raypilot").Webhooks[0]
	if dm.ObjectSelector != nil && len(dm.ObjectSelector.MatchExpressions)+len(dm.ObjectSelector.MatchLabels) > 0 || dm.MatchConditions != nil {
		t.Errorf("defaults render an objectSelector %+v or matchConditions %+v", dm.ObjectSelector, dm.MatchConditions)
	}
}

// TestAggregatedClusterRoles: edit/admin may write ComputeTemplates, view
// may read them and ClusterComputeTemplates; nobody writes
// ClusterComputeTemplates through them. rbac.aggregateClusterRoles=false
// renders neither.
func TestAggregatedClusterRoles(t *testing.T) {
	r := render(t, "raypilot")
	edit, view := clusterRole(t, r, "raypilot-edit"), clusterRole(t, r, "raypilot-view")
	for role, want := range map[string]map[string]string{
		edit.Name: {"rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true"},
		view.Name: {"rbac.authorization.k8s.io/aggregate-to-view": "true", "rbac.authorization.k8s.io/aggregate-to-edit": "true", "rbac.authorization.k8s.io/aggregate-to-admin": "true"},
	} {
		if !labelsMatch(want, r.find(t, "ClusterRole", role).GetLabels()) {
			t.Errorf("ClusterRole %s labels %v lack %v", role, r.find(t, "ClusterRole", role).GetLabels(), want)
		}
	}
	for _, rule := range edit.Rules {
		if !slices.Equal(rule.APIGroups, []string{"raypilot.io"}) || !slices.Equal(rule.Resources, []string{"computetemplates"}) {
			t.Errorf("the edit role grants %s", ruleString(rule))
		}
	}
	for _, rule := range view.Rules {
		if !slices.Equal(rule.APIGroups, []string{"raypilot.io"}) || !slices.Equal(rule.Verbs, []string{"get", "list", "watch"}) ||
			!slices.Equal(rule.Resources, []string{"computetemplates", "clustercomputetemplates"}) {
			t.Errorf("the view role grants %s", ruleString(rule))
		}
	}
	// The chart's CRDs name the group and resources the roles grant.
	for _, crd := range []string{"raypilot.io_computetemplates.yaml", "raypilot.io_clustercomputetemplates.yaml"} {
		data, err := os.ReadFile(filepath.Join(chartDir, "crds", crd))
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			Spec struct {
				Group string
				Names struct{ Plural string }
			}
		}
		if err := yaml.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		if c.Spec.Group != "raypilot.io" || !slices.Contains(view.Rules[0].Resources, c.Spec.Names.Plural) {
			t.Errorf("CRD %s is %s/%s; the view role does not cover it", crd, c.Spec.Group, c.Spec.Names.Plural)
		}
	}
	r = render(t, "raypilot", "--set", "rbac.aggregateClusterRoles=false")
	if r.lookup("ClusterRole", "raypilot-edit") != nil || r.lookup("ClusterRole", "raypilot-view") != nil {
		t.Errorf("rbac.aggregateClusterRoles=false still renders the aggregated roles")
	}
}

// TestWatchNamespacesRendering: the flags both components get and the
// webhook configurations' scope; rbac_test.go checks the rights.
func TestWatchNamespacesRendering(t *testing.T) {
	r := render(t, "raypilot", watchedNamespaces(t)...)
	wc := container(t, deployment(t, r, "raypilot-webhook"), "webhook")
	sc := container(t, deployment(t, r, "raypilot-scaler"), "scaler")
	for name, args := range map[string][]string{"webhook": wc.Args, "scaler": sc.Args} {
		if v, _ := flagValue(args, "watch-namespaces"); v != strings.Join(watchedNamespaceNames, ",") {
			t.Errorf("%s --watch-namespaces=%q", name, v)
		}
	}
	if v, ok := flagValue(wc.Args, "configmap-templates"); !ok || v != "false" {
		t.Errorf("ConfigMap templates off: webhook --configmap-templates=%q", v)
	}
	for _, sel := range []*metav1.LabelSelector{mutating(t, r, "raypilot").Webhooks[0].NamespaceSelector, validating(t, r, "raypilot").Webhooks[0].NamespaceSelector} {
		e := sel.MatchExpressions
		if len(e) != 2 || e[1].Operator != "In" || !slices.Equal(e[1].Values, watchedNamespaceNames) {
			t.Errorf("namespaceSelector %+v: want the exclusions and In %v", sel, watchedNamespaceNames)
		}
	}
	r = render(t, "raypilot", "--set", "watchNamespaces={team-a}")
	if _, ok := flagValue(container(t, deployment(t, r, "raypilot-webhook"), "webhook").Args, "configmap-templates"); ok {
		t.Errorf("ConfigMap templates on: the webhook gets --configmap-templates")
	}
	r = render(t, "raypilot")
	for name, args := range map[string][]string{"webhook": container(t, deployment(t, r, "raypilot-webhook"), "webhook").Args, "scaler": container(t, deployment(t, r, "raypilot-scaler"), "scaler").Args} {
		if v, ok := flagValue(args, "watch-namespaces"); ok {
			t.Errorf("defaults: %s gets --watch-namespaces=%s", name, v)
		}
	}
}

func roleRules(t *testing.T, o *unstructured.Unstructured) []rbacv1.PolicyRule {
	return as[rbacv1.Role](t, o).Rules
}

// TestLoggingValues: logging.format and logging.level reach both
// components; a component's debug lowers only its own level.
func TestLoggingValues(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		flags                 []string
		format, webhook, scal string
	}{
		{"defaults", nil, "json", "info", "info"},
		{"console, warn", []string{"--set", "logging.format=console", "--set", "logging.level=warn"}, "console", "warn", "warn"},
		{"webhook debug", []string{"--set", "logging.level=error", "--set", "webhook.debug=true"}, "json", "debug", "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, "raypilot", tc.flags...)
			for component, level := range map[string]string{"webhook": tc.webhook, "scaler": tc.scal} {
				args := container(t, deployment(t, r, "raypilot-"+component), component).Args
				if f, _ := flagValue(args, "log-format"); f != tc.format {
					t.Errorf("%s --log-format=%q, want %q", component, f, tc.format)
				}
				if l, _ := flagValue(args, "log-level"); l != level {
					t.Errorf("%s --log-level=%q, want %q", component, l, level)
				}
			}
		})
	}
}
