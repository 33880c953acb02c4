package scaler

import (
	"context"
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

// TestNewHeadIsAskedItsVersion: a new head pod behind the same Service is a
// new GCS, possibly of another Ray: the scaler connects again and asks,
// instead of trusting the old answer for up to a minute.
func TestNewHeadIsAskedItsVersion(t *testing.T) {
	g := startGCS(t, pendingState(), "2.52.0")
	r, k, rec := newTestReconciler(t, g.Addr, inTreeTestCluster(false), headPod("rc-head-1", false))
	h := &inTreeHarness{t: t, r: r, k: k, gcs: g.Autoscaler, events: rec}
	h.rounds(1)
	if n := h.replicas(); n != 1 {
		t.Fatalf("replicas %d with a supported Ray, want 1", n)
	}
	g.NodeInfo.SetVersion("2.6.3")
	ctx := context.Background()
	if err := k.Delete(ctx, headPod("rc-head-1", false)); err != nil {
		t.Fatal(err)
	}
	if err := k.Create(ctx, headPod("rc-head-2", false)); err != nil {
		t.Fatal(err)
	}
	reads := g.Autoscaler.Reads()
	h.rounds(2)
	if n := g.Autoscaler.Reads(); n != reads {
		t.Errorf("the new head's GCS (Ray 2.6.3) was read %d times", n-reads)
	}
	var unsupported bool
	for _, e := range h.drainEvents() {
		unsupported = unsupported || strings.HasPrefix(e, "Warning "+EventUnsupportedRay+" ")
	}
	if !unsupported {
		t.Error("no UnsupportedRay Event for the new head's Ray 2.6.3")
	}
}
