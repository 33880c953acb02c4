package chart

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/raypilot/raypilot/defaults"
)

// allOptional turns on every optional object: cert-manager, ServiceMonitor,
// PrometheusRule, Grafana dashboard, NetworkPolicies, Secret reads for Ray
// tokens, the Ray client ServiceAccount of Ray's Kubernetes token
// authentication.
var allOptional = []string{
	"--set", "certManager.enabled=true",
	"--set", "metrics.serviceMonitor.enabled=true",
	"--set", "metrics.prometheusRule.enabled=true",
	"--set", "metrics.grafanaDashboard.enabled=true",
	"--set", "networkPolicy.enabled=true",
	"--set", "scaler.rayAuthTokenSecrets=true",
	"--set", "scaler.rayKubernetesAuth.enabled=true",
}

// urlMode is the local control plane's configuration: no pods, the webhook
// reached at a URL with a fixed CA bundle.
var urlMode = []string{
	"--set", "webhook.deploy=false",
	"--set", "scaler.deploy=false",
	"--set", "webhook.clientConfig.url=https://127.0.0.1:9443",
	"--set", "webhook.clientConfig.caBundle=" + testCABundle,
}

// testCABundle is base64 of a PEM block; the API server checks only the
// encoding of caBundle, not the certificate.
const testCABundle = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJ4ekNDQVcyZ0F3SUJBZ0lVWnpDaUMzR3JkN1E9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

func TestLintStrict(t *testing.T) {
	for name, flags := range map[string][]string{"defaults": nil, "all optional": allOptional, "url mode": urlMode,
		"every value": everyValue(t), "watched namespaces": watchedNamespaces(t)} {
		t.Run(name, func(t *testing.T) {
			out, err := helm(append([]string{"lint", "--strict", chartDir}, flags...)...)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") || strings.Contains(out, "[WARNING]") || strings.Contains(out, "[ERROR]") {
				t.Fatalf("helm lint --strict not clean:\n%s", out)
			}
		})
	}
}

// TestServerDryRun renders the chart with its CRDs and has the real API
// server validate every object (`kubectl apply --dry-run=server`).
func TestServerDryRun(t *testing.T) {
	cases := []struct {
		name  string
		flags []string
		want  []string // kind/name that must be among the accepted objects
	}{
		{"defaults", nil, []string{
			"customresourcedefinition.apiextensions.k8s.io/computetemplates.raypilot.io",
			"customresourcedefinition.apiextensions.k8s.io/clustercomputetemplates.raypilot.io",
			"deployment.apps/raypilot-webhook", "deployment.apps/raypilot-scaler",
			"poddisruptionbudget.policy/raypilot-webhook", "service/raypilot-webhook",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/raypilot",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/raypilot",
			"configmap/raypilot-policy",
		}},
		{"cert-manager and monitoring", allOptional, []string{
			"issuer.cert-manager.io/raypilot-selfsigned", "issuer.cert-manager.io/raypilot-ca",
			"certificate.cert-manager.io/raypilot-ca", "certificate.cert-manager.io/raypilot-webhook",
			"servicemonitor.monitoring.coreos.com/raypilot", "configmap/raypilot-dashboard",
			"prometheusrule.monitoring.coreos.com/raypilot",
			"networkpolicy.networking.k8s.io/raypilot-webhook", "networkpolicy.networking.k8s.io/raypilot-scaler",
			"deployment.apps/raypilot-webhook",
			"serviceaccount/raypilot-ray-client", "clusterrole.rbac.authorization.k8s.io/raypilot-ray-client",
			"clusterrolebinding.rbac.authorization.k8s.io/raypilot-ray-client",
		}},
		{"url mode", urlMode, []string{
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/raypilot",
			"serviceaccount/raypilot-webhook", "serviceaccount/raypilot-scaler",
		}},
		{"no scaler, one hard-spread webhook", []string{"--set", "scaler.enabled=false", "--set", "webhook.replicas=1",
			"--set", "webhook.podAntiAffinity=hard", "--set", "webhook.preStopSleepSeconds=0"}, []string{
			"deployment.apps/raypilot-webhook",
		}},
		{"every value", everyValue(t), []string{
			"deployment.apps/raypilot-webhook", "deployment.apps/raypilot-scaler",
			"serviceaccount/ray-client-of-team", "clusterrole.rbac.authorization.k8s.io/raypilot-edit",
			"clusterrole.rbac.authorization.k8s.io/raypilot-view",
			"servicemonitor.monitoring.coreos.com/raypilot", "prometheusrule.monitoring.coreos.com/raypilot",
			"networkpolicy.networking.k8s.io/raypilot-scaler",
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/raypilot",
			"validatingwebhookconfiguration.admissionregistration.k8s.io/raypilot",
		}},
		{"single call", singleCall, []string{
			"mutatingwebhookconfiguration.admissionregistration.k8s.io/raypilot", "deployment.apps/raypilot-webhook",
		}},
		{"watched namespaces", watchedNamespaces(t), []string{
			"role.rbac.authorization.k8s.io/raypilot-scaler", "rolebinding.rbac.authorization.k8s.io/raypilot-webhook",
			"role.rbac.authorization.k8s.io/raypilot-ray-client", "clusterrole.rbac.authorization.k8s.io/raypilot-webhook",
		}},
	}
	createNamespaces(t, watchedNamespaceNames...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := render(t, "raypilot", append([]string{"--include-crds"}, tc.flags...)...)
			out, err := kubectl([]byte(r.raw), "apply", "--dry-run=server", "-f", "-")
			if err != nil {
				t.Fatalf("API server rejected the rendered chart: %v\n%s", err, out)
			}
			accepted := 0
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if strings.HasSuffix(line, "(server dry run)") {
					accepted++
				}
			}
			if accepted != len(r.objs) {
				t.Errorf("%d objects rendered, %d accepted:\n%s", len(r.objs), accepted, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w+" created (server dry run)") {
					t.Errorf("%s not accepted; kubectl said:\n%s", w, out)
				}
			}
		})
	}
}

// TestSchemaRejectsBadValues: each bad value fails `helm template` with a
// message naming the value and the rule.
func TestSchemaRejectsBadValues(t *testing.T) {
	cases := []struct {
		name  string
		flags []string
		want  string
	}{
		{"timeout above 5", []string{"--set", "webhook.timeoutSeconds=10"}, "at '/webhook/timeoutSeconds': maximum: got 10, want 5"},
		{"timeout 0", []string{"--set", "webhook.timeoutSeconds=0"}, "at '/webhook/timeoutSeconds': minimum: got 0, want 1"},
		{"mutating failurePolicy", []string{"--set", "webhook.mutating.failurePolicy=Maybe"}, "at '/webhook/mutating/failurePolicy': value must be one of 'Fail', 'Ignore'"},
		{"validating failurePolicy lowercase", []string{"--set", "webhook.validating.failurePolicy=fail"}, "at '/webhook/validating/failurePolicy': value must be one of 'Fail', 'Ignore'"},
		{"reinvocationPolicy", []string{"--set", "webhook.mutating.reinvocationPolicy=Always"}, "at '/webhook/mutating/reinvocationPolicy': value must be one of 'Never', 'IfNeeded'"},
		{"webhook replicas 0", []string{"--set", "webhook.replicas=0"}, "at '/webhook/replicas': minimum: got 0, want 1"},
		{"scaler replicas 0", []string{"--set", "scaler.replicas=0"}, "at '/scaler/replicas': minimum: got 0, want 1"},
		{"image tag a number", valuesFile(t, "image:\n  tag: 1.2\n"), "at '/image/tag': got number, want string"},
		{"pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"},
		{"typo in a key", []string{"--set", "webhok.replicas=2"}, "additional properties 'webhok' not allowed"},
		{"anti-affinity mode", []string{"--set", "scaler.podAntiAffinity=strict"}, "at '/scaler/podAntiAffinity': value must be one of 'soft', 'hard', 'none'"},
		{"url not https", []string{"--set", "webhook.clientConfig.url=http://127.0.0.1:9443"}, "at '/webhook/clientConfig/url': 'http://127.0.0.1:9443' does not match pattern"},
		{"cert duration", []string{"--set", "certManager.certDuration=90 days"}, "at '/certManager/certDuration': '90 days' does not match pattern"},
		{"scaler interval", []string{"--set", "scaler.interval=fast"}, "at '/scaler/interval': 'fast' does not match pattern"},
		{"Kubernetes auth not a boolean", []string{"--set-string", "scaler.rayKubernetesAuth.enabled=yes"}, "at '/scaler/rayKubernetesAuth/enabled': got string, want boolean"},
		{"Kubernetes auth typo", []string{"--set", "scaler.rayKubernetesAuth.enable=true"}, "at '/scaler/rayKubernetesAuth': additional properties 'enable' not allowed"},
		{"policy max replicas a string", valuesFile(t, "policy:\n  limits:\n    maxReplicasPerGroup: ten\n"), "at '/policy/limits/maxReplicasPerGroup': got string, want integer"},
		{"policy max replicas negative", []string{"--set", "policy.limits.maxWorkersPerCluster=-1"}, "at '/policy/limits/maxWorkersPerCluster': minimum: got -1, want 0"},
		{"policy CPU not a quantity", []string{"--set", "policy.limits.maxCPUPerPod=lots"}, "at '/policy/limits/maxCPUPerPod': 'lots' does not match pattern"},
		{"policy GPU a string", valuesFile(t, "policy:\n  limits:\n    maxGPUPerPod: \"2\"\n"), "at '/policy/limits/maxGPUPerPod': got string, want integer"},
		{"policy image prefixes not a list", []string{"--set", "policy.limits.allowedImagePrefixes=rayproject/"}, "at '/policy/limits/allowedImagePrefixes': got string, want array"},
		{"policy unknown limit", []string{"--set", "policy.limits.maxPods=3"}, "at '/policy/limits': additional properties 'maxPods' not allowed"},
		{"policy autoscaling mode", []string{"--set", "policy.defaults.autoscaling.mode=sidecar"}, "at '/policy/defaults/autoscaling/mode': value must be one of '', 'in-tree', 'central'"},
		{"policy upscaling mode", []string{"--set", "policy.defaults.autoscaling.upscalingMode=Fast"}, "at '/policy/defaults/autoscaling/upscalingMode': value must be one of"},
		{"policy enforce unknown field", []string{"--set", "policy.enforce[0]=cpu"}, "at '/policy/enforce/0': value must be one of 'image', 'imagePullPolicy'"},
		// The values added for common chart conventions: typos and bad values.
		{"image digest not a digest", []string{"--set", "image.digest=latest"}, "at '/image/digest': 'latest' does not match pattern"},
		{"image registry with a scheme", []string{"--set", "image.registry=https://registry.example"}, "at '/image/registry': 'https://registry.example' does not match pattern"},
		{"global registry with a path", []string{"--set", "global.imageRegistry=registry.example/team"}, "at '/global/imageRegistry': 'registry.example/team' does not match pattern"},
		{"commonLabels value a number", []string{"--set", "commonLabels.tier=1"}, "at '/commonLabels/tier': got number, want string"},
		{"serviceAccount typo", []string{"--set", "webhook.serviceAccount.crate=false"}, "at '/webhook/serviceAccount': additional properties 'crate' not allowed"},
		{"Ray client serviceAccount typo", []string{"--set", "scaler.rayKubernetesAuth.serviceAccount.nmae=x"}, "at '/scaler/rayKubernetesAuth/serviceAccount': additional properties 'nmae' not allowed"},
		{"securityContext typo", []string{"--set", "webhook.securityContext.readOnlyRootFileSystem=true"}, "at '/webhook/securityContext': additional properties 'readOnlyRootFileSystem' not allowed"},
		{"podSecurityContext typo", []string{"--set", "scaler.podSecurityContext.runAsNonroot=true"}, "at '/scaler/podSecurityContext': additional properties 'runAsNonroot' not allowed"},
		{"seccompProfile type", []string{"--set", "webhook.podSecurityContext.seccompProfile.type=Default"}, "at '/webhook/podSecurityContext/seccompProfile/type': value must be one of 'RuntimeDefault'"},
		{"topology spread without whenUnsatisfiable", valuesFile(t, "webhook:\n  topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone}]\n"),
			"at '/webhook/topologySpreadConstraints/0': missing property 'whenUnsatisfiable'"},
		{"namespaceSelector typo", []string{"--set", "webhook.namespaceSelector.matchLabel.ray=enabled"}, "at '/webhook/namespaceSelector': additional properties 'matchLabel' not allowed"},
		{"objectSelector operator", valuesFile(t, "webhook:\n  objectSelector: {matchExpressions: [{key: a, operator: Equals, values: [b]}]}\n"),
			"at '/webhook/objectSelector/matchExpressions/0/operator': value must be one of 'In', 'NotIn', 'Exists', 'DoesNotExist'"},
		{"matchCondition without expression", valuesFile(t, "webhook:\n  matchConditions: [{name: a}]\n"), "at '/webhook/matchConditions/0': missing property 'expression'"},
		{"configuration annotation a number", valuesFile(t, "webhook:\n  configurationAnnotations: {owner: 1}\n"), "at '/webhook/configurationAnnotations/owner': got number, want string"},
		{"networkPolicy typo", []string{"--set", "networkPolicy.enable=true"}, "at '/networkPolicy': additional properties 'enable' not allowed"},
		{"GCS port 0", []string{"--set", "networkPolicy.rayGCSPorts={0}"}, "at '/networkPolicy/rayGCSPorts/0': minimum: got 0, want 1"},
		{"API server address not a CIDR", []string{"--set", "networkPolicy.apiServer.cidrs={10.0.0.1}"}, "at '/networkPolicy/apiServer/cidrs/0': '10.0.0.1' does not match pattern"},
		{"ServiceMonitor relabeling typo", valuesFile(t, "metrics:\n  serviceMonitor: {relabelings: [{sourceLabel: [x]}]}\n"),
			"at '/metrics/serviceMonitor/relabelings/0': additional properties 'sourceLabel' not allowed"},
		{"PrometheusRule typo", []string{"--set", "metrics.prometheusRule.enable=true"}, "at '/metrics/prometheusRule': additional properties 'enable' not allowed"},
		{"rbac typo", []string{"--set", "rbac.aggregate=true"}, "at '/rbac': additional properties 'aggregate' not allowed"},
		{"log format", []string{"--set", "logging.format=text"}, "at '/logging/format': value must be one of 'json', 'console'"},
		{"log level", []string{"--set", "logging.level=trace"}, "at '/logging/level': value must be one of 'debug', 'info', 'warn', 'error'"},
		{"watched namespace not a name", []string{"--set", "watchNamespaces={Team_A}"}, "at '/watchNamespaces/0': 'Team_A' does not match pattern"},
		// Checks across values, done by the templates.
		{"commonLabels naming a chart label", []string{"--set", `commonLabels.app\.kubernetes\.io/name=mine`},
			`commonLabels: "app.kubernetes.io/name" is a label the chart sets itself`},
		{"podLabels naming a selector label", []string{"--set", `scaler.podLabels.app\.kubernetes\.io/component=mine`},
			`scaler.podLabels: "app.kubernetes.io/component" is one of the Deployment's selector labels`},
		{"watching the release namespace", []string{"--set", "watchNamespaces={team-a," + releaseNamespace + "}"},
			`watchNamespaces: "` + releaseNamespace + `" is excluded from the webhook`},
		{"watching an excluded namespace", []string{"--set", "watchNamespaces={team-a}", "--set", "webhook.excludedNamespaces={team-a}"},
			`watchNamespaces: "team-a" is excluded from the webhook`},
		{"cainjector annotation with cert-manager", []string{"--set", "certManager.enabled=true", "--set", `webhook.configurationAnnotations.cert-manager\.io/inject-ca-from=x/y`},
			"webhook.configurationAnnotations: cert-manager.io/inject-ca-from is set by the chart"},
		{"enforce without a default", []string{"--set", "policy.enforce[0]=priorityClassName"},
			`policy.enforce[0]: "priorityClassName" is enforced but policy.defaults.priorityClassName is not set`},
		{"preStop sleep outlasts the grace period", []string{"--set", "webhook.preStopSleepSeconds=30"},
			"webhook.preStopSleepSeconds (30) must be less than webhook.terminationGracePeriodSeconds (30)"},
		{"caBundle without url", []string{"--set", "webhook.clientConfig.caBundle=" + testCABundle},
			"webhook.clientConfig.caBundle is used only with webhook.clientConfig.url"},
		{"caBundle with cert-manager", append(slices.Clone(urlMode), "--set", "certManager.enabled=true"),
			"webhook.clientConfig.caBundle and certManager.enabled are exclusive"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := helm(append([]string{"template", "raypilot", chartDir, "--namespace", releaseNamespace}, tc.flags...)...)
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", tc.want)
			}
			if !strings.Contains(out, tc.want) {
				t.Fatalf("error does not say %q:\n%s", tc.want, out)
			}
		})
	}
}

// TestWebhookConfigurations checks scope and call settings, and that url
// mode replaces the Service reference entirely.
func TestWebhookConfigurations(t *testing.T) {
	r := render(t, "raypilot")
	m := mutating(t, r, "raypilot")
	v := validating(t, r, "raypilot")
	if len(m.Webhooks) != 1 || len(v.Webhooks) != 1 {
		t.Fatalf("want one webhook in each configuration, got %d and %d", len(m.Webhooks), len(v.Webhooks))
	}
	type common struct {
		name         string
		rules        []admissionv1.RuleWithOperations
		ns           *metav1.LabelSelector
		match        *admissionv1.MatchPolicyType
		side         *admissionv1.SideEffectClass
		timeout      *int32
		failure      *admissionv1.FailurePolicyType
		clientConfig admissionv1.WebhookClientConfig
		path         string
	}
	mw, vw := m.Webhooks[0], v.Webhooks[0]
	for _, w := range []common{
		{mw.Name, mw.Rules, mw.NamespaceSelector, mw.MatchPolicy, mw.SideEffects, mw.TimeoutSeconds, mw.FailurePolicy, mw.ClientConfig, "/mutate-ray-io-v1"},
		{vw.Name, vw.Rules, vw.NamespaceSelector, vw.MatchPolicy, vw.SideEffects, vw.TimeoutSeconds, vw.FailurePolicy, vw.ClientConfig, "/validate-ray-io-v1"},
	} {
		if len(w.rules) != 1 {
			t.Fatalf("%s: want one rule, got %v", w.name, w.rules)
		}
		rule := w.rules[0]
		if !slices.Equal(rule.APIGroups, []string{"ray.io"}) || !slices.Equal(rule.Resources, []string{"rayclusters", "rayjobs", "rayservices"}) ||
			!slices.Equal(rule.Operations, []admissionv1.OperationType{admissionv1.Create, admissionv1.Update}) {
			t.Errorf("%s: rule %+v, want ray.io rayclusters/rayjobs/rayservices CREATE/UPDATE", w.name, rule)
		}
		if len(w.ns.MatchExpressions) != 1 {
			t.Fatalf("%s: namespaceSelector %+v", w.name, w.ns)
		}
		e := w.ns.MatchExpressions[0]
		if e.Key != "kubernetes.io/metadata.name" || e.Operator != "NotIn" || !slices.Equal(e.Values, []string{"kube-system", releaseNamespace}) {
			t.Errorf("%s: namespaceSelector %+v, want kubernetes.io/metadata.name NotIn [kube-system %s]", w.name, e, releaseNamespace)
		}
		if *w.match != admissionv1.Equivalent || *w.side != admissionv1.SideEffectClassNone || *w.timeout != 3 || *w.failure != admissionv1.Fail {
			t.Errorf("%s: matchPolicy %s sideEffects %s timeout %d failurePolicy %s; want Equivalent None 3 Fail", w.name, *w.match, *w.side, *w.timeout, *w.failure)
		}
		svc := w.clientConfig.Service
		if svc == nil || svc.Name != "raypilot-webhook" || svc.Namespace != releaseNamespace || svc.Path == nil || *svc.Path != w.path || w.clientConfig.URL != nil {
			t.Errorf("%s: clientConfig %+v, want the Service raypilot-webhook path %s", w.name, w.clientConfig, w.path)
		}
		if len(w.clientConfig.CABundle) != 0 {
			t.Errorf("%s: the chart rendered a caBundle in self-managed mode; an upgrade would reset the injected one", w.name)
		}
	}

	// url mode: the Service reference is gone, the URL and fixed bundle are in.
	r = render(t, "raypilot", append(slices.Clone(urlMode), "--set", "webhook.excludedNamespaces={ray-system}")...)
	for _, cc := range []struct {
		cfg  admissionv1.WebhookClientConfig
		path string
	}{{mutating(t, r, "raypilot").Webhooks[0].ClientConfig, "/mutate-ray-io-v1"}, {validating(t, r, "raypilot").Webhooks[0].ClientConfig, "/validate-ray-io-v1"}} {
		if cc.cfg.Service != nil || cc.cfg.URL == nil || *cc.cfg.URL != "https://127.0.0.1:9443"+cc.path || len(cc.cfg.CABundle) == 0 {
			t.Errorf("url mode clientConfig %+v, want url https://127.0.0.1:9443%s with a caBundle and no service", cc.cfg, cc.path)
		}
	}
	if e := mutating(t, r, "raypilot").Webhooks[0].NamespaceSelector.MatchExpressions[0]; !slices.Equal(e.Values, []string{"kube-system", releaseNamespace, "ray-system"}) {
		t.Errorf("excludedNamespaces not added: %v", e.Values)
	}
	for _, kind := range []string{"Deployment", "Service", "PodDisruptionBudget"} {
		if objs := r.ofKind(kind); len(objs) > 0 {
			t.Errorf("url mode with deploy=false rendered %s %s", kind, objs[0].GetName())
		}
	}
	for _, sa := range []string{"raypilot-webhook", "raypilot-scaler"} {
		r.find(t, "ServiceAccount", sa)
	}

	// cert-manager: cainjector annotation naming the rendered Certificate.
	r = render(t, "raypilot", allOptional...)
	for _, o := range []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"} {
		ann := r.find(t, o, "raypilot").GetAnnotations()["cert-manager.io/inject-ca-from"]
		if ann != releaseNamespace+"/raypilot-webhook" {
			t.Errorf("%s inject-ca-from = %q, want %s/raypilot-webhook", o, ann, releaseNamespace)
		}
	}
	cert := r.find(t, "Certificate", "raypilot-webhook")
	dns, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if !slices.Contains(dns, "raypilot-webhook.raypilot.svc") {
		t.Errorf("Certificate dnsNames %v lack the Service's DNS name", dns)
	}
}

// TestDeployments checks HA, probes, hardening and that the webhook's flags
// name the objects the chart actually renders.
func TestDeployments(t *testing.T) {
	r := render(t, "raypilot")
	wd := deployment(t, r, "raypilot-webhook")
	sd := deployment(t, r, "raypilot-scaler")
	for _, d := range []struct {
		name string
		dep  *corev1.PodSpec
		reps int32
	}{{"webhook", &wd.Spec.Template.Spec, *wd.Spec.Replicas}, {"scaler", &sd.Spec.Template.Spec, *sd.Spec.Replicas}} {
		if d.reps != 2 {
			t.Errorf("%s replicas %d, want 2", d.name, d.reps)
		}
		ps := d.dep
		if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
			t.Errorf("%s: pod does not require non-root", d.name)
		}
		c := ps.Containers[0]
		if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem ||
			c.SecurityContext.AllowPrivilegeEscalation == nil || *c.SecurityContext.AllowPrivilegeEscalation {
			t.Errorf("%s: container not read-only / no-escalation: %+v", d.name, c.SecurityContext)
		}
		if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() {
			t.Errorf("%s: no resource requests", d.name)
		}
		if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.ReadinessProbe.HTTPGet.Port.String() != "health" ||
			c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
			t.Errorf("%s: probes %+v %+v, want /readyz and /healthz on the health port", d.name, c.ReadinessProbe, c.LivenessProbe)
		}
		health, _ := flagValue(c.Args, "health-probe-bind-address")
		if !slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool {
			return p.Name == "health" && ":"+strconv.Itoa(int(p.ContainerPort)) == health
		}) {
			t.Errorf("%s: --health-probe-bind-address=%s is not the health port %v", d.name, health, c.Ports)
		}
		if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil {
			t.Errorf("%s: no pod anti-affinity", d.name)
		}
		// The policy is mounted as a directory from the policy ConfigMap
		// (a subPath mount would never see updates).
		policy, _ := flagValue(c.Args, "policy")
		mountedFromConfigMap := false
		for _, m := range c.VolumeMounts {
			if filepath.Dir(policy) == m.MountPath && m.SubPath == "" {
				for _, v := range ps.Volumes {
					if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == "raypilot-policy" {
						mountedFromConfigMap = true
					}
				}
			}
		}
		if !mountedFromConfigMap {
			t.Errorf("%s: --policy=%s is not in a directory mounted from ConfigMap raypilot-policy", d.name, policy)
		}
		// Policy reload Events go to that ConfigMap, in the release namespace.
		if cm, _ := flagValue(c.Args, "policy-configmap"); cm != releaseNamespace+"/raypilot-policy" {
			t.Errorf("%s: --policy-configmap=%q, want %s/raypilot-policy", d.name, cm, releaseNamespace)
		}
	}

	// Sharding by default, leader election without it: the scaler's flags
	// as cmd/raypilot/scaler.go names them, never both.
	if v, _ := flagValue(container(t, sd, "scaler").Args, "sharding"); v != "true" {
		t.Errorf("scaler runs without --sharding")
	}
	if v, ok := flagValue(container(t, sd, "scaler").Args, "leader-elect"); ok {
		t.Errorf("scaler runs with --sharding and --leader-elect=%s", v)
	}
	leArgs := container(t, deployment(t, render(t, "raypilot", "--set", "scaler.sharding.enabled=false"), "raypilot-scaler"), "scaler").Args
	if v, _ := flagValue(leArgs, "leader-elect"); v != "true" {
		t.Errorf("scaler.sharding.enabled=false: scaler runs without --leader-elect")
	}
	if v, ok := flagValue(leArgs, "sharding"); ok {
		t.Errorf("scaler.sharding.enabled=false: scaler runs with --sharding=%s", v)
	}
	// Ray's Kubernetes token authentication is opt-in: by default neither
	// the flag nor the Ray client ServiceAccount; with it, the flag names
	// the ServiceAccount the chart renders, in the release namespace.
	if v, ok := flagValue(container(t, sd, "scaler").Args, "ray-client-service-account"); ok {
		t.Errorf("defaults: the scaler gets --ray-client-service-account=%s", v)
	}
	if o := r.lookup("ServiceAccount", "raypilot-ray-client"); o != nil {
		t.Errorf("defaults: the Ray client ServiceAccount is rendered")
	}
	rk := render(t, "raypilot", "--set", "scaler.rayKubernetesAuth.enabled=true")
	rayClient := as[corev1.ServiceAccount](t, rk.find(t, "ServiceAccount", "raypilot-ray-client"))
	if v, _ := flagValue(container(t, deployment(t, rk, "raypilot-scaler"), "scaler").Args, "ray-client-service-account"); v != rayClient.Namespace+"/"+rayClient.Name {
		t.Errorf("--ray-client-service-account=%q, want %s/%s", v, rayClient.Namespace, rayClient.Name)
	}
	if rayClient.AutomountServiceAccountToken == nil || *rayClient.AutomountServiceAccountToken {
		t.Errorf("the Ray client ServiceAccount must not have its token mounted anywhere")
	}

	// The webhook's self-managed flags name what the chart renders and the
	// RBAC allows.
	wc := container(t, wd, "webhook")
	want := map[string]string{
		"cert-mode":                        "self-managed",
		"mutating-webhook-configuration":   mutating(t, r, "raypilot").Name,
		"validating-webhook-configuration": validating(t, r, "raypilot").Name,
		"webhook-service-name":             r.find(t, "Service", "raypilot-webhook").GetName(),
		"cert-secret-namespace":            "$(POD_NAMESPACE)",
		"leader-elect":                     "true",
	}
	for flag, w := range want {
		if got, _ := flagValue(wc.Args, flag); got != w {
			t.Errorf("webhook --%s=%q, want %q", flag, got, w)
		}
	}
	if lease, _ := flagValue(wc.Args, "leader-elect-resource-name"); lease != "raypilot-webhook-tls-writer" {
		t.Errorf("webhook --leader-elect-resource-name=%q, want the Lease its Role names", lease)
	}
	secret, _ := flagValue(wc.Args, "cert-secret-name")
	role := as[rbacv1.Role](t, r.find(t, "Role", "raypilot-webhook"))
	if !slices.ContainsFunc(role.Rules, func(rule rbacv1.PolicyRule) bool {
		return slices.Contains(rule.Resources, "secrets") && slices.Equal(rule.ResourceNames, []string{secret}) && slices.Contains(rule.Verbs, "update")
	}) {
		t.Errorf("the webhook Role does not let it update its Secret %q: %v", secret, role.Rules)
	}
	port, _ := flagValue(wc.Args, "port")
	svc := as[corev1.Service](t, r.find(t, "Service", "raypilot-webhook"))
	if !slices.ContainsFunc(wc.Ports, func(p corev1.ContainerPort) bool {
		return p.Name == "webhook" && strconv.Itoa(int(p.ContainerPort)) == port
	}) || svc.Spec.Ports[0].TargetPort.String() != "webhook" || svc.Spec.Ports[0].Port != *mutating(t, r, "raypilot").Webhooks[0].ClientConfig.Service.Port {
		t.Errorf("Service %v does not route the configuration's port to --port=%s", svc.Spec.Ports, port)
	}
	if wd.Spec.Template.Spec.TerminationGracePeriodSeconds == nil || wc.Lifecycle == nil || wc.Lifecycle.PreStop == nil || wc.Lifecycle.PreStop.Sleep == nil ||
		wc.Lifecycle.PreStop.Sleep.Seconds >= *wd.Spec.Template.Spec.TerminationGracePeriodSeconds {
		t.Errorf("webhook needs a preStop sleep shorter than its grace period: %+v", wc.Lifecycle)
	}
	pdb := as[policyv1.PodDisruptionBudget](t, r.find(t, "PodDisruptionBudget", "raypilot-webhook"))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || !labelsMatch(pdb.Spec.Selector.MatchLabels, wd.Spec.Template.Labels) {
		t.Errorf("PDB %+v does not keep one webhook pod", pdb.Spec)
	}

	// cert-manager: files mode, the Certificate's Secret mounted at --cert-dir.
	r = render(t, "raypilot", allOptional...)
	wd = deployment(t, r, "raypilot-webhook")
	wc = container(t, wd, "webhook")
	if v, _ := flagValue(wc.Args, "cert-mode"); v != "files" {
		t.Errorf("cert-manager mode: --cert-mode=%s, want files", v)
	}
	if _, ok := flagValue(wc.Args, "leader-elect"); ok {
		t.Errorf("cert-manager mode: the webhook writes nothing, so no leader election")
	}
	certDir, _ := flagValue(wc.Args, "cert-dir")
	certSecret, _, _ := unstructured.NestedString(r.find(t, "Certificate", "raypilot-webhook").Object, "spec", "secretName")
	mounted := false
	for _, m := range wc.VolumeMounts {
		for _, v := range wd.Spec.Template.Spec.Volumes {
			if m.MountPath == certDir && v.Name == m.Name && v.Secret != nil && v.Secret.SecretName == certSecret {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("cert-manager mode: Secret %s is not mounted at --cert-dir=%s", certSecret, certDir)
	}
	// One replica: no PDB (it would block every drain).
	r = render(t, "raypilot", "--set", "webhook.replicas=1")
	if r.lookup("PodDisruptionBudget", "raypilot-webhook") != nil {
		t.Errorf("PDB rendered for a single webhook replica")
	}
}

// TestPolicyConfigMap: the rendered policy is a document the webhook's own
// parser accepts, with the chart's defaults and the values given.
func TestPolicyConfigMap(t *testing.T) {
	parse := func(t *testing.T, r rendered) *defaults.Policy {
		t.Helper()
		cm := as[corev1.ConfigMap](t, r.find(t, "ConfigMap", "raypilot-policy"))
		p, err := defaults.ParsePolicy([]byte(cm.Data["policy.yaml"]))
		if err != nil {
			t.Fatalf("the webhook would refuse the chart's policy: %v\n%s", err, cm.Data["policy.yaml"])
		}
		return p
	}
	if p := parse(t, render(t, "raypilot")); p.Defaults.Autoscaling.Mode != defaults.ModeCentral || p.Defaults.Image != defaults.BuiltinImage {
		t.Errorf("default policy: mode %q image %q, want central and %s", p.Defaults.Autoscaling.Mode, p.Defaults.Image, defaults.BuiltinImage)
	}
	if p := parse(t, render(t, "raypilot", "--set", "scaler.enabled=false")); p.Defaults.Autoscaling.Mode != defaults.ModeInTree {
		t.Errorf("without the scaler the mode is %q, want in-tree", p.Defaults.Autoscaling.Mode)
	}
	p := parse(t, render(t, "raypilot", valuesFile(t, `
policy:
  defaults:
    image: "rayproject/ray:{rayVersion}-py310"
    priorityClassName: ray-default
    computeTemplate: default-template
    tolerations: [{key: ray, operator: Exists, effect: NoSchedule}]
    autoscaling: {mode: in-tree, idleTimeoutSeconds: 60, upscalingMode: Conservative}
  enforce: [priorityClassName, tolerations]
  limits:
    maxReplicasPerGroup: 100
    maxWorkersPerCluster: 200
    maxCPUPerPod: "32"
    maxMemoryPerPod: 128Gi
    maxGPUPerPod: 8
    allowedImagePrefixes: ["rayproject/", "registry.internal/"]
    readAPIServerConfigMaps: false
`)...))
	if p.Defaults.Image != "rayproject/ray:{rayVersion}-py310" || p.Defaults.PriorityClassName != "ray-default" || p.Defaults.ComputeTemplate != "default-template" ||
		len(p.Defaults.Tolerations) != 1 || p.Defaults.Autoscaling.Mode != defaults.ModeInTree || *p.Defaults.Autoscaling.IdleTimeoutSeconds != 60 ||
		!p.Enforces("priorityClassName") || !p.Enforces("tolerations") ||
		p.Limits.MaxReplicasPerGroup != 100 || p.Limits.MaxWorkersPerCluster != 200 || p.Limits.MaxCPUPerPod.String() != "32" ||
		p.Limits.MaxMemoryPerPod.String() != "128Gi" || *p.Limits.MaxGPUPerPod != 8 || len(p.Limits.AllowedImagePrefixes) != 2 || p.ReadsConfigMapTemplates() {
		t.Errorf("policy values did not reach the document: %+v", p)
	}
}

// TestAppVersionTracksBinary: Chart.yaml's appVersion (the default image
// tag) is the version `raypilot version` prints for a build without the
// release ldflag, read from cmd/raypilot/main.go.
func TestAppVersionTracksBinary(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct{ Version, AppVersion string }
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(repoRoot, "cmd", "raypilot", "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	version := ""
	ast.Inspect(f, func(n ast.Node) bool {
		if vs, ok := n.(*ast.ValueSpec); ok && len(vs.Names) == 1 && vs.Names[0].Name == "version" && len(vs.Values) == 1 {
			if lit, ok := vs.Values[0].(*ast.BasicLit); ok {
				version, _ = strconv.Unquote(lit.Value)
			}
		}
		return true
	})
	if version == "" {
		t.Fatal("no `var version = \"...\"` in cmd/raypilot/main.go")
	}
	if chart.AppVersion != version {
		t.Errorf("Chart.yaml appVersion %q, raypilot version %q", chart.AppVersion, version)
	}
	if "v"+chart.Version != version {
		t.Errorf("Chart.yaml version %q does not follow the binary's %q", chart.Version, version)
	}
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return len(selector) > 0
}
