package scaler

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// reportHeartbeat is how often a cluster's unchanged autoscaling state is
// reported again. The GCS keeps the last report in memory without expiry
// and nothing in Ray judges its age: HandleReportAutoscalingState (ray:
// src/ray/gcs/gcs_autoscaler_state_manager.cc) stores it, dropping only a
// lower autoscaler_state_version, and HandleGetClusterStatus hands it to
// `ray status` as it is (python/ray/autoscaler/v2/utils.py shows its
// version, no time). Ray's own autoscaler reports every loop, 5 s
// (python/ray/autoscaler/v2/autoscaler.py), because it sends what it has
// each time, not because the GCS needs it. What a repeated report still
// does in the GCS: with RAY_enable_infeasible_task_early_exit, every report
// cancels the leases that match its infeasible shapes, so a task queued
// between two rounds that left the state equal waits for the heartbeat to
// be failed.
const reportHeartbeat = 30 * time.Second

// lastReport is what the scaler last reported to a cluster's GCS, so that
// a round reports only what changed: at 2,000 clusters the report was half
// of the scaler's gRPC traffic.
type lastReport struct {
	// state is the last state the GCS accepted, with both version fields
	// zero; nil: the GCS may not hold one.
	state *rpcpb.AutoscalingState
	at    time.Time
	// conn, session and version identify the GCS of the latest read: a new
	// connection, another cluster_session_name or a
	// cluster_resource_state_version that did not grow (the GCS counts its
	// reads from 0 in memory, IncrementAndGetNextClusterResourceStateVersion)
	// is a GCS that may have forgotten the report.
	conn    *conn
	session string
	version int64
}

// due records the round's read of the GCS over c and reports whether next
// (its version fields zero) is to be sent: the GCS holds no report of the
// scaler's, holds another, or holds it since reportHeartbeat.
func (l *lastReport) due(c *conn, seen *rpcpb.ClusterResourceState, next *rpcpb.AutoscalingState, now time.Time) bool {
	version, session := seen.GetClusterResourceStateVersion(), seen.GetClusterSessionName()
	if c != l.conn || session != l.session || version <= l.version {
		l.state = nil
	}
	l.conn, l.session, l.version = c, session, version
	return l.state == nil || now.Sub(l.at) >= reportHeartbeat || !proto.Equal(l.state, next)
}

// sent records that the GCS accepted next (its version fields zero) at now.
func (l *lastReport) sent(next *rpcpb.AutoscalingState, now time.Time) {
	l.state, l.at = next, now
}
