// Package buildinfo exports raypilot_build_info, the constant-1 gauge whose
// labels say which build a process runs (Prometheus' convention for build
// metadata, as prometheus_build_info): joined to other series, it tells
// which version produced them.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// MetricName is the name of the gauge Register adds.
const MetricName = "raypilot_build_info"

// maxLabel bounds each label value: version is whatever -ldflags
// "-X main.version=..." set.
const maxLabel = 64

// Labels are the label values of the gauge.
type Labels struct {
	// Version is the -X main.version value.
	Version string
	// Revision is the VCS commit the binary was built from, with -dirty
	// when the work tree had changes; "unknown" when the build recorded
	// none (go build -buildvcs=false, as the image build does).
	Revision string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// Read returns the labels of this binary, with version as Version.
func Read(version string) Labels {
	l := Labels{Version: bound(version), Revision: "unknown", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return l
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		if modified == "true" {
			rev += "-dirty"
		}
		l.Revision = bound(rev)
	}
	return l
}

// Register adds raypilot_build_info{version, revision, goversion} = 1 to
// reg, version being the binary's -X main.version value.
func Register(reg prometheus.Registerer, version string) error {
	l := Read(version)
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: MetricName,
		Help: "Always 1; its labels name the build: version (-X main.version), revision (VCS commit, unknown when not recorded), goversion.",
		ConstLabels: prometheus.Labels{
			"version": l.Version, "revision": l.Revision, "goversion": l.GoVersion,
		},
	})
	g.Set(1)
	if err := reg.Register(g); err != nil {
		return fmt.Errorf("register %s: %w", MetricName, err)
	}
	return nil
}

func bound(s string) string {
	if len(s) <= maxLabel {
		return s
	}
	return s[:maxLabel]
}
