package chart

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// alertRule is one rule of the rendered PrometheusRule.
type alertRule struct{ Alert, Expr string }

func alertRules(t *testing.T, r rendered) map[string]alertRule {
	t.Helper()
	pr := r.find(t, "PrometheusRule", "raypilot")
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	out := map[string]alertRule{}
	for _, g := range groups {
		for _, rule := range g.(map[string]any)["rules"].([]any) {
			m := rule.(map[string]any)
			out[m["alert"].(string)] = alertRule{Alert: m["alert"].(string), Expr: m["expr"].(string)}
		}
	}
	return out
}

// TestPrometheusRule: off by default; on, each alert queries a metric that
// its exporter really has (found in the exporter's source: this repository,
// controller-runtime, cert-manager, the API server), with the release's job
// and namespace, the scaler's Lease name and the Certificate's name the
// chart renders; the cert-manager alerts only with cert-manager, the
// self-managed certificate's expiry alert only without, at a sixth of
// selfManagedCerts.certValidity; a component not deployed has no alerts.
func TestPrometheusRule(t *testing.T) {
	if r := render(t, "raypilot"); r.lookup("PrometheusRule", "raypilot") != nil {
		t.Fatalf("PrometheusRule rendered by default")
	}
	r := render(t, "raypilot", allOptional...)
	rules := alertRules(t, r)
	want := []string{"RaypilotWebhookErrors", "RaypilotWebhookCallsFailing", "RaypilotWebhookCertificateNotRenewed",
		"RaypilotWebhookCertificateReloadFailing", "RaypilotScalerGCSUnreachable", "RaypilotScalerNoActiveReplica"}
	for _, a := range want {
		if _, ok := rules[a]; !ok {
			t.Errorf("no alert %s", a)
		}
	}

	controllerRuntime, err := goListDir("sigs.k8s.io/controller-runtime")
	if err != nil {
		t.Fatal(err)
	}
	apiserver, err := goListDir("k8s.io/apiserver")
	if err != nil {
		t.Fatal(err)
	}
	certManager, err := moduleDir(certManagerModule)
	if err != nil {
		t.Fatal(err)
	}
	// Where each metric must be found, spelt out in full (in the source or
	// in the exporter's own tests of its exposition).
	exporters := map[string][]string{
		"raypilot_webhook_admissions_total":                     {filepath.Join(repoRoot, "webhook")},
		"raypilot_webhook_certificate_expiry_timestamp_seconds": {filepath.Join(repoRoot, "webhook")},
		"certwatcher_read_certificate_errors_total":             {filepath.Join(controllerRuntime, "pkg", "certwatcher")},
		"leader_election_master_status":                         {filepath.Join(controllerRuntime, "pkg", "metrics")},
		"raypilot_scaler_gcs_requests_total":                    {filepath.Join(repoRoot, "scaler")},
		"raypilot_scaler_shard_members":                         {filepath.Join(repoRoot, "scaler")},
		"apiserver_admission_webhook_rejection_count":           {filepath.Join(apiserver, "pkg", "admission", "metrics")},
		"certmanager_certificate_renewal_timestamp_seconds":     {filepath.Join(certManager, "pkg", "metrics")},
	}
	selector := regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\{`)
	for _, rule := range rules {
		names := selector.FindAllStringSubmatch(rule.Expr, -1)
		if len(names) == 0 {
			t.Errorf("%s queries no metric: %s", rule.Alert, rule.Expr)
		}
		for _, n := range names {
			dirs, ok := exporters[n[1]]
			if !ok {
				t.Errorf("%s: metric %s has no known exporter", rule.Alert, n[1])
				continue
			}
			if !sourceMentions(t, dirs, n[1]) {
				t.Errorf("%s: %s is not in %v", rule.Alert, n[1], dirs)
			}
		}
	}
	for alert, want := range map[string]string{
		"RaypilotWebhookErrors":                   `raypilot_webhook_admissions_total{job="raypilot-webhook", namespace="` + releaseNamespace + `", result="error"}`,
		"RaypilotWebhookCertificateReloadFailing": `job="raypilot-webhook", namespace="` + releaseNamespace + `"`,
		"RaypilotScalerGCSUnreachable":            `job="raypilot-scaler-metrics", namespace="` + releaseNamespace + `"`,
		"RaypilotScalerNoActiveReplica":           `raypilot_scaler_shard_members{job="raypilot-scaler-metrics", namespace="` + releaseNamespace + `"}`,
		"RaypilotWebhookCertificateNotRenewed":    `name="raypilot-webhook", namespace="` + releaseNamespace + `"`,
		"RaypilotWebhookCallsFailing":             `name=~"expand.raypilot.io|validate.raypilot.io"`,
	} {
		if !strings.Contains(rules[alert].Expr, want) {
			t.Errorf("%s does not select %s: %s", alert, want, rules[alert].Expr)
		}
	}
	// The selected jobs are the Services' names, the Certificate is the
	// rendered one, the webhook names are the configurations', and the
	// Lease is the one the scaler is told to hold and may renew.
	r.find(t, "Service", "raypilot-webhook")
	r.find(t, "Service", "raypilot-scaler-metrics")
	r.find(t, "Certificate", "raypilot-webhook")
	if n := mutating(t, r, "raypilot").Webhooks[0].Name + "|" + validating(t, r, "raypilot").Webhooks[0].Name; !strings.Contains(rules["RaypilotWebhookCallsFailing"].Expr, n) {
		t.Errorf("RaypilotWebhookCallsFailing does not name the webhooks %s", n)
	}
	// Sharding (the default) has no leader; with leader election, the alert
	// watches the Lease the scaler is told to hold and may renew.
	if _, ok := rules["RaypilotScalerNotLeading"]; ok {
		t.Errorf("sharding: RaypilotScalerNotLeading rendered (no replica leads)")
	}
	le := render(t, "raypilot", append(slices.Clone(allOptional), "--set", "scaler.sharding.enabled=false")...)
	leRules := alertRules(t, le)
	if _, ok := leRules["RaypilotScalerNoActiveReplica"]; ok {
		t.Errorf("leader election: RaypilotScalerNoActiveReplica rendered")
	}
	lease, _ := flagValue(container(t, deployment(t, le, "raypilot-scaler"), "scaler").Args, "leader-elect-resource-name")
	if want := `job="raypilot-scaler-metrics", namespace="` + releaseNamespace + `", name="` + lease + `"`; lease == "" || !strings.Contains(leRules["RaypilotScalerNotLeading"].Expr, want) {
		t.Errorf("RaypilotScalerNotLeading does not watch the scaler's Lease %q (--leader-elect-resource-name): %s", lease, leRules["RaypilotScalerNotLeading"].Expr)
	}
	leaseRule := false
	for _, rule := range roleRules(t, le.find(t, "Role", "raypilot-scaler")) {
		leaseRule = leaseRule || slices.Contains(rule.Resources, "leases") && slices.Equal(rule.ResourceNames, []string{lease})
	}
	if !leaseRule {
		t.Errorf("the scaler's Role does not let it renew its Lease %q", lease)
	}

	if _, ok := rules["RaypilotWebhookCertificateExpiring"]; ok {
		t.Errorf("cert-manager: RaypilotWebhookCertificateExpiring rendered (it follows selfManagedCerts.certValidity)")
	}

	// Self-managed: the expiry alert, no cert-manager alerts. No scaler
	// deployed: no scaler alerts.
	selfManaged := render(t, "raypilot", "--set", "metrics.prometheusRule.enabled=true", "--set", "scaler.deploy=false")
	rules = alertRules(t, selfManaged)
	for a := range rules {
		if a != "RaypilotWebhookCertificateExpiring" && strings.Contains(a, "Certificate") || strings.Contains(a, "Scaler") {
			t.Errorf("self-managed, scaler not deployed: alert %s rendered", a)
		}
	}
	for _, a := range []string{"RaypilotWebhookCallsFailing", "RaypilotWebhookErrors"} {
		if _, ok := rules[a]; !ok {
			t.Errorf("self-managed: no %s", a)
		}
	}
	// Renewal is due with a third of the validity left (the flag the
	// chart passes); the alert fires with a sixth left.
	for _, c := range []struct {
		validity string
		want     string
	}{
		{"", "< 100800"}, // the default 168h
		{"1h30m", "< 900"},
		{"2.5h", "< 1500"},
	} {
		r := selfManaged
		if c.validity != "" {
			r = render(t, "raypilot", "--set", "metrics.prometheusRule.enabled=true", "--set", "selfManagedCerts.certValidity="+c.validity)
		}
		flag, _ := flagValue(container(t, deployment(t, r, "raypilot-webhook"), "webhook").Args, "cert-validity")
		expr := alertRules(t, r)["RaypilotWebhookCertificateExpiring"].Expr
		if !strings.Contains(expr, `raypilot_webhook_certificate_expiry_timestamp_seconds{job="raypilot-webhook", namespace="`+releaseNamespace+`"}`) ||
			!strings.HasSuffix(expr, c.want) {
			t.Errorf("--cert-validity=%s: RaypilotWebhookCertificateExpiring is %q, want the release's series %s", flag, expr, c.want)
		}
	}
}

// sourceMentions reports whether a .go file under one of dirs contains s.
func sourceMentions(t *testing.T, dirs []string, s string) bool {
	t.Helper()
	found := false
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || found || d.IsDir() || !strings.HasSuffix(path, ".go") {
				return err
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			found = strings.Contains(string(data), s)
			return nil
		})
		if err != nil {
			t.Fatalf("read %s: %v", dir, err)
		}
	}
	return found
}

// TestServiceMonitorValues: namespace, the user's relabelings after the
// chart's, metricRelabelings.
func TestServiceMonitorValues(t *testing.T) {
	sm := render(t, "raypilot", everyValue(t)...).find(t, "ServiceMonitor", "raypilot")
	if sm.GetNamespace() != "monitoring" {
		t.Errorf("ServiceMonitor in %q, want monitoring", sm.GetNamespace())
	}
	ns, _, _ := unstructured.NestedStringSlice(sm.Object, "spec", "namespaceSelector", "matchNames")
	if !slices.Equal(ns, []string{releaseNamespace}) {
		t.Errorf("the ServiceMonitor must still scrape the release namespace: %v", ns)
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	ep := endpoints[0].(map[string]any)
	relabel := ep["relabelings"].([]any)
	if len(relabel) != 2 || relabel[0].(map[string]any)["targetLabel"] != "component" || relabel[1].(map[string]any)["targetLabel"] != "cluster" {
		t.Errorf("relabelings %v: want the chart's component label, then the user's", relabel)
	}
	if mr, _ := ep["metricRelabelings"].([]any); len(mr) != 1 || mr[0].(map[string]any)["action"] != "drop" {
		t.Errorf("metricRelabelings %v", ep["metricRelabelings"])
	}
}
