package chart

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDashboardCoversMetrics: the Grafana dashboard is valid JSON and plots
// every metric the scaler registers (read from scaler/metrics.go), the
// policy reload counter both components register (internal/policyfile/policyfile.go)
// and the webhook's controller-runtime metrics, so a renamed metric shows up
// here.
func TestDashboardCoversMetrics(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "dashboards", "raypilot.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string
		Panels []struct {
			Type    string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard is not JSON: %v", err)
	}
	var exprs []string
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	all := strings.Join(exprs, "\n")
	var names [][]string
	for _, file := range []string{"scaler/metrics.go", "internal/policyfile/policyfile.go"} {
		src, err := os.ReadFile(filepath.Join(repoRoot, file))
		if err != nil {
			t.Fatal(err)
		}
		found := regexp.MustCompile(`(?:Name:\s*|Metric[A-Za-z]*\s*=\s*)"(raypilot_[a-z_]+)"`).FindAllStringSubmatch(string(src), -1)
		if len(found) == 0 {
			t.Fatalf("no metric names found in %s", file)
		}
		names = append(names, found...)
	}
	want := []string{"controller_runtime_webhook_requests_total", "controller_runtime_webhook_latency_seconds_bucket", "controller_runtime_webhook_requests_in_flight"}
	for _, n := range names {
		name := n[1]
		if strings.HasSuffix(name, "_seconds") && !strings.HasSuffix(name, "_timestamp_seconds") {
			name += "_bucket" // histograms are plotted as quantiles; timestamps are gauges
		}
		want = append(want, name)
	}
	for _, m := range want {
		if !strings.Contains(all, m) {
			t.Errorf("dashboard plots no %s", m)
		}
	}
}
