package scaler

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metricSet are the scaler's Prometheus metrics, registered once per process
// on controller-runtime's registry.
type metricSet struct {
	decisions *prometheus.CounterVec
	reaction  prometheus.Histogram
	loopLag   prometheus.Histogram
	gcsErrors *prometheus.CounterVec
	clusters  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metricSet, error) {
	m := &metricSet{
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raypilot_scaler_decisions_total",
			Help: "Scaling decisions carried out, by kind (scale_up, scale_down, drain_rejected, drain_failed, infeasible, demand_truncated).",
		}, []string{"kind"}),
		reaction: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "raypilot_scaler_reaction_seconds",
			Help:    "Time from pending demand first seen to the scale-up patch accepted.",
			Buckets: prometheus.ExponentialBuckets(0.05, 2, 12),
		}),
		loopLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "raypilot_scaler_loop_lag_seconds",
			Help:    "How late a cluster's loop ran against its interval.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
		}),
		gcsErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raypilot_scaler_gcs_errors_total",
			Help: "Failed calls to a Ray GCS, by call.",
		}, []string{"call"}),
		clusters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raypilot_scaler_clusters",
			Help: "RayClusters the scaler manages (annotated raypilot.io/autoscaling: central).",
		}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.reaction, m.loopLag, m.gcsErrors, m.clusters} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
