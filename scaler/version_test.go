package scaler

import (
	"strings"
	"testing"
)

// TestUnsupportedRayLeftAlone: a GCS whose Ray version the scaler does not
// speak gets one UnsupportedRay Event and nothing else: no state read, no
// patch, no drain, no report.
func TestUnsupportedRayLeftAlone(t *testing.T) {
	for _, version := range []string{"2.6.3", "not-a-version"} {
		t.Run(version, func(t *testing.T) {
			h := newHarnessWithRay(t, version, inTreeTestCluster(false), headPod("rc-head-1", false))
			h.rounds(3)
			if n := h.gcs.Reads(); n != 0 {
				t.Errorf("read the cluster state %d times", n)
			}
			if n := len(h.gcs.Reports()); n != 0 {
				t.Errorf("reported %d times", n)
			}
			if n := h.replicas(); n != 0 {
				t.Errorf("replicas patched to %d", n)
			}
			got := h.drainEvents()
			if len(got) != 1 || !strings.HasPrefix(got[0], "Warning "+EventUnsupportedRay+" ") {
				t.Errorf("events %q, want one Warning %s", got, EventUnsupportedRay)
			}
		})
	}
}

// TestSupportedRayScales: the same cluster with a supported Ray is scaled.
func TestSupportedRayScales(t *testing.T) {
	h := newHarnessWithRay(t, "2.52.0", inTreeTestCluster(false), headPod("rc-head-1", false))
	h.rounds(1)
	if n := h.replicas(); n != 1 {
		t.Errorf("replicas %d, want 1 for the pending {CPU: 1}", n)
	}
	for _, e := range h.drainEvents() {
		if strings.Contains(e, EventUnsupportedRay) {
			t.Errorf("event %q for a supported Ray", e)
		}
	}
}
