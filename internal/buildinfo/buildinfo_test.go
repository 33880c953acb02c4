package buildinfo

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestRegister(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if err := Register(reg, "v1.2.3"); err != nil {
		t.Fatal(err)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(families) != 1 || families[0].GetName() != MetricName || families[0].GetType() != dto.MetricType_GAUGE || len(families[0].Metric) != 1 {
		t.Fatalf("gathered %v; want one gauge %s", families, MetricName)
	}
	m := families[0].Metric[0]
	labels := map[string]string{}
	for _, l := range m.Label {
		labels[l.GetName()] = l.GetValue()
	}
	if m.GetGauge().GetValue() != 1 || len(labels) != 3 || labels["version"] != "v1.2.3" || labels["goversion"] != runtime.Version() || labels["revision"] == "" {
		t.Errorf("%s = %v %v; want 1 with version v1.2.3, goversion %s and a revision", MetricName, m.GetGauge().GetValue(), labels, runtime.Version())
	}
	// A second registration on the same registry is an error, not a panic.
	if err := Register(reg, "v1.2.3"); err == nil {
		t.Error("registered twice")
	}
}

// A version set by -ldflags is cut to a bounded label value.
func TestLabelsAreBounded(t *testing.T) {
	if l := Read(strings.Repeat("v", 1000)); len(l.Version) != maxLabel || len(l.Revision) > maxLabel {
		t.Errorf("version %d bytes, revision %d bytes; want at most %d", len(l.Version), len(l.Revision), maxLabel)
	}
}
