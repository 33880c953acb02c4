package raysim

// ReportAutoscalingState as the GCS handles it
// (GcsAutoscalerStateManager::HandleReportAutoscalingState,
// src/ray/gcs/gcs_autoscaler_state_manager.cc, commit
// 001cd27f97c6fa536214d51670940ff2399745e5):
//   - the first report is cached; a later one whose autoscaler_state_version
//     is lower than the cached one is discarded ("Received an outdated
//     autoscaling state"); otherwise it replaces the cache.
//   - after every report, outdated or not: with
//     enable_infeasible_task_early_exit the GCS asks each raylet that queues
//     infeasible work of a shape the cached state lists in
//     infeasible_resource_requests to cancel its queued leases of that shape
//     (CancelInfeasibleRequests; the raylet's
//     ClusterLeaseManager::CancelLeasesWithResourceShapes fails them with
//     "... failed to schedule because there are not enough resources for the
//     tasks or actors on the whole cluster."); without it, when the report
//     grew the number of infeasible requests (or is the first one and has
//     any), it publishes an error to the drivers.

import (
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// infeasibleErrorMessage is the error the GCS publishes to the drivers.
const infeasibleErrorMessage = "There are tasks with infeasible resource requests that cannot be scheduled. " +
	"See https://docs.ray.io/en/latest/ray-core/scheduling/index.html#ray-scheduling-resources for more details. " +
	"Possible solutions: 1. Updating the ray cluster to include nodes with all required resources " +
	"2. To cause the tasks with infeasible requests to raise an error instead of hanging, " +
	"set the 'RAY_enable_infeasible_task_early_exit=true'. " +
	"This feature will be turned on by default in a future release of Ray."

// gcsStats counts what the simulated GCS did for a cluster, for tests.
type gcsStats struct {
	// VersionCheckFailures counts GetClusterResourceState calls whose
	// last_seen_cluster_resource_state_version exceeded the GCS's counter:
	// each would have aborted a real GCS.
	VersionCheckFailures int `json:"versionCheckFailures"`
	// Reports and OutdatedReports count ReportAutoscalingState calls, and
	// those discarded as older than the cached state.
	Reports         int `json:"reports"`
	OutdatedReports int `json:"outdatedReports"`
	// PublishedErrors counts the infeasible-request errors published to
	// drivers; LastPublished holds the newest ones.
	PublishedErrors int              `json:"publishedErrors"`
	LastPublished   []publishedError `json:"lastPublished,omitempty"`
	// Cancelled counts the tasks and actors failed by the infeasible early
	// exit; LastCancelled holds the newest ones.
	Cancelled     int                `json:"cancelled"`
	LastCancelled []cancelledRequest `json:"lastCancelled,omitempty"`
}

type publishedError struct {
	Time    time.Time `json:"time"`
	Type    string    `json:"type"`
	Message string    `json:"message"`
	// Infeasible is how many infeasible requests the report that caused it
	// listed.
	Infeasible int `json:"infeasible"`
}

type cancelledRequest struct {
	Time      time.Time          `json:"time"`
	Kind      string             `json:"kind"`
	Name      string             `json:"name,omitempty"`
	Resources map[string]float64 `json:"resources"`
}

// report handles one ReportAutoscalingState; c.mu held.
func (c *cluster) report(st *rpcpb.AutoscalingState, now time.Time) {
	if st == nil {
		st = &rpcpb.AutoscalingState{} // what the GCS reads from a request without one
	}
	c.stats.Reports++
	grew := false
	switch {
	case c.reported == nil:
		grew = len(st.GetInfeasibleResourceRequests()) > 0
		c.reported, c.reportedAt = proto.Clone(st).(*rpcpb.AutoscalingState), now
	case st.GetAutoscalerStateVersion() < c.reported.GetAutoscalerStateVersion():
		c.stats.OutdatedReports++
	default:
		grew = len(c.reported.GetInfeasibleResourceRequests()) < len(st.GetInfeasibleResourceRequests())
		c.reported, c.reportedAt = proto.Clone(st).(*rpcpb.AutoscalingState), now
	}
	switch {
	case c.settings.InfeasibleEarlyExit:
		c.cancelInfeasible(now)
	case grew:
		c.stats.PublishedErrors++
		c.stats.LastPublished = appendBounded(c.stats.LastPublished, publishedError{Time: now,
			Type: "infeasible_resource_requests", Message: infeasibleErrorMessage,
			Infeasible: len(c.reported.GetInfeasibleResourceRequests())}, maxPublishedErrors)
	}
}

// cancelInfeasible fails the waiting tasks and actors whose shape equals
// one the cached report lists as infeasible, when work of that shape is
// infeasible in the cluster (the GCS only asks raylets that queue
// infeasible work of the shape; the raylet then cancels every queued lease
// of it); c.mu held.
func (c *cluster) cancelInfeasible(now time.Time) {
	var shapes []string
	for _, r := range c.reported.GetInfeasibleResourceRequests() {
		shapes = append(shapes, shapeKey(r.GetResourcesBundle()))
	}
	if len(shapes) == 0 {
		return
	}
	infeasibleShape := map[string]bool{}
	for _, it := range c.items {
		if it.kind != kindPG && !it.placed() && c.infeasible(it) {
			infeasibleShape[shapeKey(it.bundles[0])] = true
		}
	}
	kept := c.items[:0]
	for _, it := range c.items {
		key := ""
		if it.kind != kindPG && !it.placed() {
			key = shapeKey(it.bundles[0])
		}
		if key != "" && infeasibleShape[key] && containsShape(shapes, key) {
			c.stats.Cancelled++
			c.stats.LastCancelled = appendBounded(c.stats.LastCancelled, cancelledRequest{Time: now, Kind: it.kind,
				Name: it.name, Resources: clone(it.bundles[0])}, maxCancelled)
			continue
		}
		kept = append(kept, it)
	}
	clear(c.items[len(kept):])
	c.items = kept
}

func containsShape(shapes []string, key string) bool {
	for _, s := range shapes {
		if s == key {
			return true
		}
	}
	return false
}

// appendBounded appends v and keeps the newest limit entries.
func appendBounded[T any](s []T, v T, limit int) []T {
	s = append(s, v)
	if len(s) > limit {
		s = append([]T(nil), s[len(s)-limit:]...)
	}
	return s
}

// restartGCS resets what a GCS keeps in memory only, as a GCS process that
// aborted and was restarted: its state version counter, the cached
// autoscaling state and the cluster resource constraint; c.mu held.
func (c *cluster) restartGCS() {
	c.stateVersion = 0
	c.reported, c.reportedAt = nil, time.Time{}
	c.constraint = nil
}
