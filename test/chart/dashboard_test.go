package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dashboardPanel is the part of a Grafana panel the tests read.
type dashboardPanel struct {
	Type    string
	Title   string
	Targets []struct{ Expr string }
}

// readDashboard returns the chart's Grafana dashboard's panels, in order.
func readDashboard(t *testing.T) []dashboardPanel {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "raypilot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []dashboardPanel
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	return dash.Panels
}

// metricNames returns the raypilot_ metric names file (relative to the
// repository) registers, histograms with _bucket, the series quantiles are
// computed from.
func metricNames(t *testing.T, file string) []string {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(repoRoot, file))
	if err != nil {
		t.Fatal(err)
	}
	found := regexp.MustCompile(`(?:Name:\s*|Metric[A-Za-z]*\s*=\s*)"(raypilot_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(found) == 0 {
		t.Fatalf("no metric names found in %s", file)
	}
	var names []string
	for _, n := range found {
		name := n[1]
		if strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_timestamp_seconds") {
			name += "_bucket" // histograms are plotted as quantiles; timestamps are gauges
		}
		names = append(names, name)
	}
	return names
}

// TestDashboardCoversMetrics: the Grafana dashboard is valid JSON and plots
// every metric the scaler registers (read from scaler/metrics.go and
// scaler/shard.go), the
// webhook's admission metrics (webhook/metrics.go), the policy reload
// counter both components register (internal/policyfile/policyfile.go) and
// the webhook's reviews in flight, so a renamed metric shows up here.
func TestDashboardCoversMetrics(t *testing.T) {
	var exprs []string
	for _, p := range readDashboard(t) {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	want := []string{"controller_runtime_webhook_requests_in_flight"}
	for _, file := range []string{"scaler/metrics.go", "scaler/shard.go", "webhook/metrics.go", "internal/policyfile/policyfile.go"} {
		want = append(want, metricNames(t, file)...)
	}
	for _, m := range want {
		if !strings.Contains(all, m) {
			t.Errorf("dashboard plots no %s", m)
		}
	}
}

// TestDashboardWebhookPanels: the panels of the webhook row plot what the
// webhook exports about its answers (webhook/metrics.go: admissions by
// result, denials and errors by reason, handling time) and its reviews in
// flight, besides the API server's own view of the webhook; never
// controller-runtime's request counter or latency, whose code is 200 for
// every review answered, whatever the verdict.
func TestDashboardWebhookPanels(t *testing.T) {
	allowed := append([]string{"controller_runtime_webhook_requests_in_flight"}, metricNames(t, "webhook/metrics.go")...)
	metric := regexp.MustCompile(`\b(?:raypilot|controller_runtime|apiserver|leader_election)_[a-z_]+`)
	byResult := regexp.MustCompile(`by \([^)]*\bresult\b[^)]*\) \(rate\(raypilot_webhook_admissions_total\b`)
	byReason := regexp.MustCompile(`by \([^)]*\breason\b[^)]*\) \(rate\(raypilot_webhook_admissions_total\{[^}]*result=~?"[^"]*denied`)
	var inRow, sawResult, sawReason bool
	panels := 0
	for _, p := range readDashboard(t) {
		if p.Type == "row" {
			inRow = strings.HasPrefix(p.Title, "Webhook")
			continue
		}
		if !inRow {
			continue
		}
		panels++
		for _, tg := range p.Targets {
			sawResult = sawResult || byResult.MatchString(tg.Expr)
			sawReason = sawReason || byReason.MatchString(tg.Expr)
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				if !slices.Contains(allowed, m) && !strings.HasPrefix(m, "apiserver_admission_webhook_") {
					t.Errorf("webhook panel %q plots %s: want the webhook's own admission metrics or its reviews in flight (%q)", p.Title, m, allowed)
				}
			}
		}
	}
	if panels == 0 {
		t.Fatal("the dashboard has no webhook row")
	}
	if !sawResult {
		t.Error("no webhook panel plots raypilot_webhook_admissions_total by result")
	}
	if !sawReason {
		t.Error("no webhook panel plots denied raypilot_webhook_admissions_total by reason")
	}
}
