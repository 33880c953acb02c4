package scaler

import (
	"math"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/raypilot/raypilot/scaler/internal/actuator"
)

// observeGroups sets the gauges of rc's worker groups from its spec, with
// the replicas written this round (written, may be nil) in place of the
// spec's, and deletes the series of the groups in had that rc no longer
// has. It returns the groups it set, for the next call's had.
func (m *metricSet) observeGroups(rc *rayv1.RayCluster, written map[string]int32, had map[string]bool) map[string]bool {
	now := make(map[string]bool, len(rc.Spec.WorkerGroupSpecs))
	for i := range rc.Spec.WorkerGroupSpecs {
		g := &rc.Spec.WorkerGroupSpecs[i]
		hosts := float64(max(g.NumOfHosts, 1))
		// KubeRay's defaults: minReplicas 0, maxReplicas the int32 maximum,
		// replicas minReplicas (as engine.NodeTypesFromRayCluster reads them).
		lo := float64(int32Or(g.MinReplicas, 0))
		hi := float64(int32Or(g.MaxReplicas, math.MaxInt32))
		desired := float64(int32Or(g.Replicas, int32Or(g.MinReplicas, 0)))
		if n, ok := written[g.GroupName]; ok {
			desired = float64(n)
		}
		l := prometheus.Labels{"namespace": rc.Namespace, "cluster": rc.Name, "group": g.GroupName}
		m.workersDesired.With(l).Set(desired * hosts)
		m.workersMin.With(l).Set(lo * hosts)
		m.workersMax.With(l).Set(hi * hosts)
		now[g.GroupName] = true
	}
	for group := range had {
		if !now[group] {
			m.deleteSeries(prometheus.Labels{"namespace": rc.Namespace, "cluster": rc.Name, "group": group})
		}
	}
	return now
}

// scaled records a patch of rc that went through: the workers added and
// listed for deletion, and when each group's replicas last changed. rc is
// the cluster as the round read it, before the patch.
func (m *metricSet) scaled(rc *rayv1.RayCluster, res *actuator.Result, at time.Time) {
	for i := range rc.Spec.WorkerGroupSpecs {
		g := &rc.Spec.WorkerGroupSpecs[i]
		n, ok := res.Replicas[g.GroupName]
		if !ok {
			continue
		}
		if added := n - int32Or(g.Replicas, int32Or(g.MinReplicas, 0)); added > 0 {
			m.workersAdded.Add(float64(added) * float64(max(g.NumOfHosts, 1)))
		}
		m.lastScale.WithLabelValues(rc.Namespace, rc.Name, g.GroupName).Set(float64(at.UnixNano()) / 1e9)
	}
	for _, rm := range res.Removed {
		m.workersRemoved.WithLabelValues(strings.ToLower(string(rm.Cause))).Inc()
	}
}

// forgetCluster deletes every series of the cluster: it is gone, no longer
// managed, or no longer this replica's to scale.
func (m *metricSet) forgetCluster(key types.NamespacedName) {
	m.deleteSeries(prometheus.Labels{"namespace": key.Namespace, "cluster": key.Name})
}

func (m *metricSet) deleteSeries(l prometheus.Labels) {
	for _, g := range []*prometheus.GaugeVec{m.workersDesired, m.workersMin, m.workersMax, m.lastScale} {
		g.DeletePartialMatch(l)
	}
}

func int32Or(p *int32, def int32) int32 {
	if p == nil {
		return def
	}
	return *p
}
