package scaler

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/raypilot/raypilot/defaults"
	"github.com/raypilot/raypilot/scaler/gcs/gcsfake"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// series reads back every series of c: its label values joined by "/"
// (in label name order), to its value (a histogram's sample count).
func series(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var values []string
			for _, l := range m.GetLabel() {
				values = append(values, l.GetValue())
			}
			out[strings.Join(values, "/")] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetHistogram() != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	return 0
}

func wantSeries(t *testing.T, what string, got, want map[string]float64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("%s: %v, want %v", what, got, want)
	}
}

// A round that drains two idle workers and scales another group up is
// told in metrics: every GCS request by call and code (and its duration),
// the workers added and removed (by cause), and the per group gauges. The
// gauges follow the spec: a group gone from it, and then the whole cluster
// once it is no longer managed, leave no series behind.
func TestRoundMetrics(t *testing.T) {
	h := newReconcileHarness(t, drainAndScaleState(), interceptor.Funcs{}, drainAndScaleObjects()...)
	now := time.Unix(1_800_000_000, 0)
	h.r.Now = func() time.Time { return now }
	m := h.r.metrics
	h.round()

	requests := map[string]float64{"CheckAlive/OK": 1, "Dial/OK": 1, "DrainNode/OK": 2, "GetClusterResourceState/OK": 1, "ReportAutoscalingState/OK": 1}
	wantSeries(t, "GCS requests", series(t, m.gcsRequests), requests)
	wantSeries(t, "GCS request durations", series(t, m.gcsDuration),
		map[string]float64{"CheckAlive": 1, "Dial": 1, "DrainNode": 2, "GetClusterResourceState": 1, "ReportAutoscalingState": 1})
	wantSeries(t, "workers added", series(t, m.workersAdded), map[string]float64{"": 1})
	wantSeries(t, "workers removed", series(t, m.workersRemoved), map[string]float64{"idle": 2})
	wantSeries(t, "desired", series(t, m.workersDesired), map[string]float64{"rc/big/ml": 1, "rc/wg/ml": 0})
	wantSeries(t, "min", series(t, m.workersMin), map[string]float64{"rc/big/ml": 0, "rc/wg/ml": 0})
	wantSeries(t, "max", series(t, m.workersMax), map[string]float64{"rc/big/ml": 5, "rc/wg/ml": 5})
	scaledAt := float64(now.Unix())
	wantSeries(t, "last scale", series(t, m.lastScale), map[string]float64{"rc/big/ml": scaledAt, "rc/wg/ml": scaledAt})

	// The group "big" leaves the spec: its series go, wg's stay.
	rc := h.cluster()
	rc.Spec.WorkerGroupSpecs = rc.Spec.WorkerGroupSpecs[:1]
	rc.Spec.WorkerGroupSpecs[0].MinReplicas = ptr.To[int32](1)
	if err := h.k.Update(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Second)
	h.round()
	wantSeries(t, "min without big", series(t, m.workersMin), map[string]float64{"rc/wg/ml": 1})
	wantSeries(t, "max without big", series(t, m.workersMax), map[string]float64{"rc/wg/ml": 5})
	if got := series(t, m.workersDesired); len(got) != 1 || got["rc/wg/ml"] < 1 {
		t.Errorf("desired without big: %v, want wg's only, at least its minimum", got)
	}
	if got := series(t, m.lastScale); !slices.Equal(slices.Sorted(maps.Keys(got)), []string{"rc/wg/ml"}) {
		t.Errorf("last scale without big: %v, want wg's only", got)
	}

	// No longer managed: nothing of the cluster is left.
	rc = h.cluster()
	rc.Annotations[defaults.AnnotationAutoscaling] = defaults.AutoscalingDisabled
	if err := h.k.Update(context.Background(), rc); err != nil {
		t.Fatal(err)
	}
	h.round()
	for name, c := range map[string]prometheus.Collector{"desired": m.workersDesired, "min": m.workersMin, "max": m.workersMax, "last scale": m.lastScale} {
		wantSeries(t, name+" once unmanaged", series(t, c), map[string]float64{})
	}
	wantSeries(t, "clusters once unmanaged", series(t, m.clusters), map[string]float64{"": 0})
}

// A deleted cluster leaves no series behind, nor does one this replica no
// longer leads for.
func TestClusterSeriesDeleted(t *testing.T) {
	for _, c := range []struct {
		name string
		end  func(h *reconcileHarness)
	}{
		{"deleted", func(h *reconcileHarness) {
			if err := h.k.Delete(context.Background(), h.cluster()); err != nil {
				t.Fatal(err)
			}
		}},
		{"no longer leading", func(h *reconcileHarness) { h.r.Leading = func() bool { return false } }},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newReconcileHarness(t, pendingState(), interceptor.Funcs{}, inTreeTestCluster(false), headPod("rc-head", false))
			h.round()
			if n := len(series(t, h.r.metrics.workersDesired)); n != 1 {
				t.Fatalf("%d desired series after a round, want 1", n)
			}
			c.end(h)
			h.round()
			for _, g := range []*prometheus.GaugeVec{h.r.metrics.workersDesired, h.r.metrics.workersMin, h.r.metrics.workersMax, h.r.metrics.lastScale} {
				if s := series(t, g); len(s) != 0 {
					t.Errorf("series left: %v", s)
				}
			}
		})
	}
}

// A GCS answering with an error is counted under the call and its gRPC
// code, over real gRPC.
func TestGCSRequestCodes(t *testing.T) {
	g := gcsfake.Start(t, grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
		if info.FullMethod == rpcpb.AutoscalerStateService_GetClusterResourceState_FullMethodName {
			return nil, status.Error(codes.Unavailable, "GCS restarting")
		}
		return next(ctx, req)
	}))
	r, _, rec := newTestReconciler(t, g.Addr, inTreeTestCluster(false), headPod("rc-head", false))
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: rcKey}); err != nil {
		t.Fatal(err)
	}
	wantSeries(t, "GCS requests", series(t, r.metrics.gcsRequests),
		map[string]float64{"CheckAlive/OK": 1, "Dial/OK": 1, "GetClusterResourceState/Unavailable": 1})
	var events []string
	for len(rec.Events) > 0 {
		events = append(events, <-rec.Events)
	}
	if countEvents(events, corev1.EventTypeWarning, EventGCSUnreachable) != 1 {
		t.Errorf("events %q, want one %s", events, EventGCSUnreachable)
	}
}
