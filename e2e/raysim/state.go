package raysim

// The ClusterResourceState the GCS builds
// (GcsAutoscalerStateManager::MakeClusterResourceStateInternal,
// src/ray/gcs/gcs_autoscaler_state_manager.cc, commit
// 001cd27f97c6fa536214d51670940ff2399745e5):
//   - node_states: live nodes, then the dead nodes the GCS remembers. A dead
//     node carries only its id, instance id, type, IP, instance type, state
//     version and status DEAD. A live node is DRAINING once it accepted a
//     drain, IDLE once its raylet reported idleness (idle_duration_ms > 0),
//     else RUNNING; until its first load report the GCS knows only what the
//     node registered with: its total resources, all available, and not idle
//     (OnNodeAdd). dynamic_labels hold "_PG_<hex id>" for every placement
//     group with a bundle on the node; labels the node's Ray labels.
//   - pending_resource_requests: waiting tasks and actors grouped by shape
//     and label selector; the raylet reports one selector per demand, empty
//     when the work has none (src/ray/raylet/scheduling/scheduler_resource_reporter.cc).
//   - pending_gang_resource_requests: one per PENDING or RESCHEDULING
//     placement group, with only its unplaced bundles: each in requests
//     (resources and placement constraint, never a label selector) and in
//     bundle_selectors[0].resource_requests (with the bundle's label
//     selector when it has one). STRICT_PACK groups carry the affinity and
//     STRICT_SPREAD groups the anti-affinity constraint on "_PG_<hex id>"
//     with value "" (GenPlacementConstraintForPlacementGroup,
//     src/ray/common/protobuf_utils.cc); details is
//     "<hex id>:<STRATEGY>|<STATE>" (FormatPlacementGroupDetails).
//   - cluster_resource_constraints: the last RequestClusterResourceConstraint.
//   - last_seen_autoscaler_state_version is never assigned: always 0.

import (
	"encoding/hex"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// pgLabelPrefix is kPlacementGroupConstraintKeyPrefix (src/ray/common/constants.h).
const pgLabelPrefix = "_PG_"

// snapshot is the cluster's ClusterResourceState at now without counting a
// GCS call: what the control API shows.
func (c *cluster) snapshot(now time.Time) *rpcpb.ClusterResourceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advance(now)
	return c.stateLocked(now)
}

// makeState is the GCS's MakeClusterResourceStateInternal: it increments
// the state version and builds the state; c.mu held.
func (c *cluster) makeState(now time.Time) *rpcpb.ClusterResourceState {
	c.advance(now)
	c.stateVersion++
	return c.stateLocked(now)
}

func (c *cluster) stateLocked(now time.Time) *rpcpb.ClusterResourceState {
	st := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: c.stateVersion,
		ClusterSessionName:          c.session,
	}
	pgsOn := c.placementGroupsByNode()
	for _, n := range c.liveNodes() {
		st.NodeStates = append(st.NodeStates, c.liveNodeState(n, pgsOn[n], now))
	}
	for _, n := range c.dead {
		st.NodeStates = append(st.NodeStates, &rpcpb.NodeState{
			NodeId:           n.id,
			InstanceId:       n.pod,
			RayNodeTypeName:  n.group,
			NodeIpAddress:    n.ip,
			InstanceTypeName: n.instType,
			NodeStateVersion: c.stateVersion,
			Status:           rpcpb.NodeStatus_DEAD,
		})
	}
	st.PendingResourceRequests = c.pendingRequests()
	for _, it := range c.items {
		if it.kind == kindPG && !it.placed() {
			st.PendingGangResourceRequests = append(st.PendingGangResourceRequests, gangRequest(it))
		}
	}
	if c.constraint != nil {
		st.ClusterResourceConstraints = []*rpcpb.ClusterResourceConstraint{proto.Clone(c.constraint).(*rpcpb.ClusterResourceConstraint)}
	}
	return st
}

func (c *cluster) liveNodeState(n *node, pgs []string, now time.Time) *rpcpb.NodeState {
	ns := &rpcpb.NodeState{
		NodeId:             n.id,
		InstanceId:         n.pod,
		RayNodeTypeName:    n.group,
		NodeIpAddress:      n.ip,
		InstanceTypeName:   n.instType,
		NodeStateVersion:   c.stateVersion,
		TotalResources:     clone(n.total),
		AvailableResources: clone(n.avail),
		Status:             rpcpb.NodeStatus_RUNNING,
		Labels:             cloneLabels(n.labels),
	}
	if len(pgs) > 0 {
		ns.DynamicLabels = map[string]string{}
		for _, id := range pgs {
			ns.DynamicLabels[pgLabelPrefix+id] = ""
		}
	}
	reported := n.reported(now)
	if !reported {
		ns.AvailableResources = clone(n.total)
	}
	switch {
	case n.draining():
		ns.Status = rpcpb.NodeStatus_DRAINING
	case reported && n.idle():
		ns.Status = rpcpb.NodeStatus_IDLE
		ns.IdleDurationMs = max(1, now.Sub(n.idleSince).Milliseconds())
	case reported:
		ns.NodeActivity = []string{"busy"}
	}
	return ns
}

// placementGroupsByNode lists, per node, the hex ids of the placement
// groups with a bundle on it; c.mu held.
func (c *cluster) placementGroupsByNode() map[*node][]string {
	out := map[*node][]string{}
	for _, it := range c.items {
		if it.kind != kindPG {
			continue
		}
		seen := map[*node]bool{}
		for _, n := range it.placedOn {
			if n != nil && !seen[n] {
				seen[n] = true
				out[n] = append(out[n], it.pgHex())
			}
		}
	}
	return out
}

// pendingRequests groups the waiting tasks and actors by shape and label
// selector, in arrival order; c.mu held.
func (c *cluster) pendingRequests() []*rpcpb.ResourceRequestByCount {
	byKey := map[string]*rpcpb.ResourceRequestByCount{}
	var out []*rpcpb.ResourceRequestByCount
	for _, it := range c.items {
		if it.kind == kindPG || it.placed() {
			continue
		}
		key := it.demand
		if r, ok := byKey[key]; ok {
			r.Count++
			continue
		}
		r := &rpcpb.ResourceRequestByCount{Count: 1, Request: &rpcpb.ResourceRequest{
			ResourcesBundle: clone(it.bundles[0]),
			LabelSelectors:  []*rpcpb.LabelSelector{it.selectors[0].proto()},
		}}
		byKey[key] = r
		out = append(out, r)
	}
	return out
}

// gangRequest encodes a placement group that is not fully placed the way
// the GCS does (see the top of this file).
func gangRequest(it *item) *rpcpb.GangResourceRequest {
	id := it.pgHex()
	label := pgLabelPrefix + id
	g := &rpcpb.GangResourceRequest{Details: id + ":" + it.strategy + "|" + it.pgState()}
	sel := &rpcpb.BundleSelector{}
	for i, b := range it.bundles {
		if i < len(it.placedOn) && it.placedOn[i] != nil {
			continue // placed bundles are not load
		}
		legacy := &rpcpb.ResourceRequest{ResourcesBundle: clone(b)}
		bundle := &rpcpb.ResourceRequest{ResourcesBundle: clone(b)}
		if len(it.selectors[i]) > 0 {
			bundle.LabelSelectors = []*rpcpb.LabelSelector{it.selectors[i].proto()}
		}
		var pc *rpcpb.PlacementConstraint
		switch it.strategy {
		case "STRICT_PACK":
			pc = &rpcpb.PlacementConstraint{Affinity: &rpcpb.AffinityConstraint{LabelName: label}}
		case "STRICT_SPREAD":
			pc = &rpcpb.PlacementConstraint{AntiAffinity: &rpcpb.AntiAffinityConstraint{LabelName: label}}
		}
		if pc != nil {
			legacy.PlacementConstraints = []*rpcpb.PlacementConstraint{pc}
			bundle.PlacementConstraints = []*rpcpb.PlacementConstraint{proto.Clone(pc).(*rpcpb.PlacementConstraint)}
		}
		g.Requests = append(g.Requests, legacy)
		sel.ResourceRequests = append(sel.ResourceRequests, bundle)
	}
	g.BundleSelectors = []*rpcpb.BundleSelector{sel}
	return g
}

func cloneLabels(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// hexID is a node id as Ray prints it.
func hexID(id []byte) string { return hex.EncodeToString(id) }
