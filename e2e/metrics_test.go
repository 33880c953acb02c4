package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/raypilot/raypilot/internal/promscrape"

	dto "github.com/prometheus/client_model/go"
)

// metricWant is one metric a component must export: its type and the
// label names of its series (every series has the same names).
type metricWant struct {
	name   string
	typ    dto.MetricType
	labels []string
}

var (
	commonMetrics = []metricWant{
		{"raypilot_build_info", dto.MetricType_GAUGE, []string{"goversion", "revision", "version"}},
		{"raypilot_policy_reloads_total", dto.MetricType_COUNTER, []string{"result"}},
	}
	webhookMetrics = []metricWant{
		{"raypilot_webhook_admissions_total", dto.MetricType_COUNTER, []string{"kind", "operation", "reason", "result", "webhook"}},
		{"raypilot_webhook_admission_duration_seconds", dto.MetricType_HISTOGRAM, []string{"kind", "webhook"}},
		{"raypilot_webhook_certificate_expiry_timestamp_seconds", dto.MetricType_GAUGE, nil},
	}
	scalerMetrics = []metricWant{
		{"raypilot_scaler_gcs_requests_total", dto.MetricType_COUNTER, []string{"call", "code"}},
		{"raypilot_scaler_gcs_request_duration_seconds", dto.MetricType_HISTOGRAM, []string{"call"}},
		{"raypilot_scaler_workers_desired", dto.MetricType_GAUGE, []string{"cluster", "group", "namespace"}},
		{"raypilot_scaler_workers_min", dto.MetricType_GAUGE, []string{"cluster", "group", "namespace"}},
		{"raypilot_scaler_workers_max", dto.MetricType_GAUGE, []string{"cluster", "group", "namespace"}},
		{"raypilot_scaler_last_scale_timestamp_seconds", dto.MetricType_GAUGE, []string{"cluster", "group", "namespace"}},
		{"raypilot_scaler_workers_added_total", dto.MetricType_COUNTER, nil},
		{"raypilot_scaler_workers_removed_total", dto.MetricType_COUNTER, []string{"cause"}},
		{"raypilot_scaler_decisions_total", dto.MetricType_COUNTER, []string{"kind"}},
		{"raypilot_scaler_clusters", dto.MetricType_GAUGE, nil},
	}
)

// The webhook and the scaler, as the local control plane runs them, export
// every metric the docs list, with its type and label names, once they have
// admitted, refused and scaled a cluster; a deleted cluster leaves no
// per-group series behind.
func TestMetricsScraped(t *testing.T) {
	ns := namespace(t, "e2e-metrics")
	name := "metered"
	startCluster(t, ns, name, twoGroupCluster(name, "3", "", ""))
	bad := strings.Replace(twoGroupCluster("refused", "3", "", ""), "groupName: tagged", "groupName: plain", 1)
	if _, _, err := kubectl(t, bad, "apply", "-n", ns, "-f", "-"); err == nil {
		t.Fatal("a cluster with two groups named plain was admitted")
	}
	raysimPostActor(t, ns, name, raysimActorSpec{Name: "metered", Resources: map[string]float64{"CPU": 1}})
	eventually(t, 30*time.Second, "scaled up", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 1, fmt.Sprint(r)
	})
	mustRaysim(t, "DELETE", raysimPath(ns, name, "/actors/metered"), nil)
	eventually(t, 60*time.Second, "scaled down", func() (bool, string) {
		r := groupReplicas(t, ns, name)
		return r["plain"] == 0, fmt.Sprint(r)
	})

	webhookURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", webhookPort(t)+4)
	scalerURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", scalerMetricsPort(t))
	webhook, scaler := scrapeMetrics(t, webhookURL), scrapeMetrics(t, scalerURL)
	checkMetrics(t, "webhook", webhook, append(slices.Clone(commonMetrics), webhookMetrics...))
	checkMetrics(t, "scaler", scaler, append(slices.Clone(commonMetrics), scalerMetrics...))

	kinds := map[string]bool{}
	for _, m := range webhook["raypilot_webhook_admissions_total"].GetMetric() {
		l := promscrape.Labels(m)
		if l["kind"] == "RayCluster" && m.GetCounter().GetValue() > 0 {
			kinds[l["webhook"]+"/"+l["result"]] = true
			if l["result"] == "denied" && l["reason"] == "" {
				t.Errorf("a denial without a reason: %v", l)
			}
		}
	}
	// The refused cluster is refused by the first webhook it meets.
	for _, want := range []string{"mutate/patched", "validate/allowed", "mutate/denied"} {
		if !kinds[want] {
			t.Errorf("no RayCluster admission counted as %s; counted: %v", want, kinds)
		}
	}
	if exp := webhook["raypilot_webhook_certificate_expiry_timestamp_seconds"].GetMetric(); len(exp) == 1 {
		if left := time.Until(time.Unix(int64(exp[0].GetGauge().GetValue()), 0)); left <= 0 {
			t.Errorf("certificate expiry %v ago", -left)
		}
	}

	group := func(family, group string) (float64, bool) {
		for _, m := range scaler[family].GetMetric() {
			l := promscrape.Labels(m)
			if l["namespace"] == ns && l["cluster"] == name && l["group"] == group {
				return m.GetGauge().GetValue(), true
			}
		}
		return 0, false
	}
	for family, want := range map[string]float64{"raypilot_scaler_workers_desired": 0, "raypilot_scaler_workers_min": 0, "raypilot_scaler_workers_max": 4} {
		if got, ok := group(family, "plain"); !ok || got != want {
			t.Errorf("%s{group=plain} = %v (exported: %v), want %v", family, got, ok, want)
		}
	}
	if at, ok := group("raypilot_scaler_last_scale_timestamp_seconds", "plain"); !ok || time.Since(time.Unix(int64(at), 0)) > 5*time.Minute {
		t.Errorf("last scale of group plain at %v (exported: %v), want within the test", at, ok)
	}
	calls := map[string]bool{}
	for _, m := range scaler["raypilot_scaler_gcs_requests_total"].GetMetric() {
		if l := promscrape.Labels(m); l["code"] == "OK" {
			calls[l["call"]] = true
		}
	}
	for _, call := range []string{"GetClusterResourceState", "DrainNode"} {
		if !calls[call] {
			t.Errorf("no successful GCS %s counted; successful calls: %v", call, calls)
		}
	}

	mustKubectl(t, "", "delete", "raycluster", name, "-n", ns, "--wait=true")
	eventually(t, 30*time.Second, "the deleted cluster's series gone", func() (bool, string) {
		families := scrapeMetrics(t, scalerURL)
		var left []string
		for _, f := range families {
			for _, m := range f.GetMetric() {
				if l := promscrape.Labels(m); l["namespace"] == ns && l["cluster"] == name {
					left = append(left, f.GetName())
				}
			}
		}
		return len(left) == 0, strings.Join(left, ", ")
	})
}

// checkMetrics reports each wanted metric missing from families or of
// another type or label names.
func checkMetrics(t *testing.T, component string, families map[string]*dto.MetricFamily, want []metricWant) {
	t.Helper()
	for _, w := range want {
		f, ok := families[w.name]
		if !ok || len(f.GetMetric()) == 0 {
			t.Errorf("%s exports no %s", component, w.name)
			continue
		}
		if f.GetType() != w.typ {
			t.Errorf("%s %s: type %v, want %v", component, w.name, f.GetType(), w.typ)
		}
		for _, m := range f.GetMetric() {
			var names []string
			for n := range promscrape.Labels(m) {
				names = append(names, n)
			}
			slices.Sort(names)
			if !slices.Equal(names, w.labels) {
				t.Errorf("%s %s: labels %v, want %v", component, w.name, names, w.labels)
				break
			}
		}
	}
}

// scrapeMetrics reads url's Prometheus text exposition.
func scrapeMetrics(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	families, err := promscrape.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	return families
}
