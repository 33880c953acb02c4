package scaler

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
)

// metricSet are the scaler's Prometheus metrics, registered once per process
// on controller-runtime's registry.
type metricSet struct {
	decisions *prometheus.CounterVec
	reaction  prometheus.Histogram
	loopLag   prometheus.Histogram
	clusters  prometheus.Gauge
	active    prometheus.Gauge
	// gcsRequests and gcsDuration see every request to a GCS
	// (gcs.Options.Observe).
	gcsRequests *prometheus.CounterVec
	gcsDuration *prometheus.HistogramVec
	// workersAdded and workersRemoved count workers, not decisions; their
	// labels are bounded (no cluster, no group).
	workersAdded   prometheus.Counter
	workersRemoved *prometheus.CounterVec
	// The per worker group gauges (groupmetrics.go), deleted with their
	// cluster.
	workersDesired *prometheus.GaugeVec
	workersMin     *prometheus.GaugeVec
	workersMax     *prometheus.GaugeVec
	lastScale      *prometheus.GaugeVec
}

// groupLabels identify a worker group of a RayCluster.
var groupLabels = []string{"namespace", "cluster", "group"}

// gcsBuckets span the GCS calls' durations: a few milliseconds for a state
// read, up to the default timeouts (10 s, 30 s for drains).
var gcsBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func newMetrics(reg prometheus.Registerer) (*metricSet, error) {
	groupGauge := func(o prometheus.GaugeOpts) *prometheus.GaugeVec { return prometheus.NewGaugeVec(o, groupLabels) }
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
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raypilot_scaler_active_clusters",
			Help: "Managed RayClusters found busy (demand, launches, drains to retry, a patch) in their last round or the 30 s before, polled at --active-interval within --active-rounds-per-second.",
		}),
		clusters: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "raypilot_scaler_clusters",
			Help: "RayClusters the scaler manages (annotated raypilot.io/autoscaling: central).",
		}),
		gcsRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raypilot_scaler_gcs_requests_total",
			Help: "Requests to Ray GCSs, by call (Dial, CheckAlive, GetClusterResourceState, DrainNode, NodeInfoGcsService.DrainNode, ReportAutoscalingState) and gRPC status code (OK, Unavailable, DeadlineExceeded, ...).",
		}, []string{"call", "code"}),
		gcsDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "raypilot_scaler_gcs_request_duration_seconds",
			Help:    "Duration of the requests to Ray GCSs, by call.",
			Buckets: gcsBuckets,
		}, []string{"call"}),
		workersAdded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "raypilot_scaler_workers_added_total",
			Help: "Workers (Ray worker pods) the scaler added to worker groups' replicas.",
		}),
		workersRemoved: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raypilot_scaler_workers_removed_total",
			Help: "Worker pods the scaler listed for deletion, by cause (idle, max_num_node_per_type, max_num_nodes, ray_stopped, allocation_timeout).",
		}, []string{"cause"}),
		workersDesired: groupGauge(prometheus.GaugeOpts{Name: "raypilot_scaler_workers_desired",
			Help: "Workers (replicas × numOfHosts) a worker group of a managed RayCluster is to have, as the scaler last wrote or read it."}),
		workersMin: groupGauge(prometheus.GaugeOpts{Name: "raypilot_scaler_workers_min",
			Help: "Workers (minReplicas × numOfHosts) a worker group of a managed RayCluster keeps at least."}),
		workersMax: groupGauge(prometheus.GaugeOpts{Name: "raypilot_scaler_workers_max",
			Help: "Workers (maxReplicas × numOfHosts) a worker group of a managed RayCluster may have at most."}),
		lastScale: groupGauge(prometheus.GaugeOpts{Name: "raypilot_scaler_last_scale_timestamp_seconds",
			Help: "Unix time the scaler last changed a worker group's replicas."}),
	}
	for _, c := range []prometheus.Collector{m.decisions, m.reaction, m.loopLag, m.clusters, m.active, m.gcsRequests, m.gcsDuration,
		m.workersAdded, m.workersRemoved, m.workersDesired, m.workersMin, m.workersMax, m.lastScale} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register the scaler's metrics: %w", err)
		}
	}
	return m, nil
}

// observeGCS counts one request to a GCS; it is the scaler's
// gcs.CallObserver.
func (m *metricSet) observeGCS(call string, code codes.Code, elapsed time.Duration) {
	m.gcsRequests.WithLabelValues(call, code.String()).Inc()
	m.gcsDuration.WithLabelValues(call).Observe(elapsed.Seconds())
}
