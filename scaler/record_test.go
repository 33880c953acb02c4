package scaler

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	"k8s.io/client-go/tools/events"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// A round that decides on part of the demand says so with one
// DemandTruncated Event and one log line per episode (not one per second,
// debug level every round); warnings are logged when they change.
func TestRecordTruncationAndWarnings(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	rec := events.NewFakeRecorder(100)
	core, logs := observer.New(zap.DebugLevel)
	r := &Reconciler{Events: rec, metrics: m}
	rc := &rayv1.RayCluster{}
	mem := &clusterMemory{}
	truncated := engine.Plan{Truncated: &engine.Truncation{Shapes: 250, ShapesTotal: 20000, Requests: 19750},
		Warnings: []string{"pod a (group g): Ray node 01 has status NodeStatus(9), which the scaler does not know; left alone (counted, never terminated)"}}
	for _, p := range []engine.Plan{truncated, truncated, truncated, {}, truncated} {
		r.record(rc, mem, p, &actuator.Result{}, time.Now(), zap.New(core))
	}
	var got []string
	for len(rec.Events) > 0 {
		got = append(got, <-rec.Events)
	}
	want := "Warning DemandTruncated decided on 250 of 20000 pending request shapes (19750 requests left for later rounds): more demand than one scaling round considers"
	if len(got) != 2 || got[0] != want || got[1] != want {
		t.Errorf("events %q, want twice %q", got, want)
	}
	if n := logs.FilterMessage("demand truncated").FilterLevelExact(zap.InfoLevel).Len(); n != 2 {
		t.Errorf("%d truncation log lines at info, want 2", n)
	}
	if n := logs.FilterMessage("demand truncated").Len(); n != 4 {
		t.Errorf("%d truncation log lines, want 4", n)
	}
	if w := logs.FilterMessage("left alone").All(); len(w) != 2 || !strings.Contains(w[0].ContextMap()["warning"].(string), "NodeStatus(9)") {
		t.Errorf("warning log lines %v", w)
	}
}
