package raysim

import (
	"encoding/hex"
	"sort"
	"time"

	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// snapshot is the cluster's ClusterResourceState as the GCS would report it.
func (c *cluster) snapshot(now time.Time) *rpcpb.ClusterResourceState {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := &rpcpb.ClusterResourceState{
		ClusterResourceStateVersion: c.version,
		ClusterSessionName:          c.session,
	}
	if c.reported != nil {
		st.LastSeenAutoscalerStateVersion = c.reported.GetAutoscalerStateVersion()
	}
	var pods []string
	for p := range c.nodes {
		pods = append(pods, p)
	}
	sort.Strings(pods)
	for _, p := range pods {
		n := c.nodes[p]
		ns := &rpcpb.NodeState{
			NodeId:             n.id,
			InstanceId:         n.pod,
			RayNodeTypeName:    n.group,
			NodeIpAddress:      n.ip,
			TotalResources:     clone(n.total),
			AvailableResources: clone(n.avail),
			Status:             rpcpb.NodeStatus_RUNNING,
			Labels:             map[string]string{"ray.io/node-group": n.group, "ray.io/node-id": hex.EncodeToString(n.id)},
		}
		switch {
		case n.dead:
			ns.Status = rpcpb.NodeStatus_DEAD
			ns.AvailableResources = map[string]float64{}
		case n.idle():
			ns.Status = rpcpb.NodeStatus_IDLE
			ns.IdleDurationMs = now.Sub(n.idleSince).Milliseconds()
		default:
			ns.NodeActivity = []string{"busy"}
		}
		st.NodeStates = append(st.NodeStates, ns)
	}
	shapes := map[string]*rpcpb.ResourceRequestByCount{}
	var order []string
	for _, it := range c.items {
		if it.placed() {
			continue
		}
		if it.kind == "pg" {
			st.PendingGangResourceRequests = append(st.PendingGangResourceRequests, gangRequest(it))
			continue
		}
		key := shapeKey(it.bundles[0])
		if r, ok := shapes[key]; ok {
			r.Count++
			continue
		}
		shapes[key] = &rpcpb.ResourceRequestByCount{Request: &rpcpb.ResourceRequest{ResourcesBundle: clone(it.bundles[0])}, Count: 1}
		order = append(order, key)
	}
	for _, k := range order {
		st.PendingResourceRequests = append(st.PendingResourceRequests, shapes[k])
	}
	return st
}

// gangRequest encodes a pending placement group the way Ray does: strict
// strategies as affinity (STRICT_PACK) or anti-affinity (STRICT_SPREAD) on
// the label _PG_<id>; PACK and SPREAD without constraints.
func gangRequest(it *item) *rpcpb.GangResourceRequest {
	label := "_PG_" + hex.EncodeToString([]byte(it.name))
	g := &rpcpb.GangResourceRequest{Details: label[4:] + ":" + it.strategy + "|PENDING"}
	for _, b := range it.bundles {
		r := &rpcpb.ResourceRequest{ResourcesBundle: clone(b)}
		switch it.strategy {
		case "STRICT_PACK":
			r.PlacementConstraints = []*rpcpb.PlacementConstraint{{Affinity: &rpcpb.AffinityConstraint{LabelName: label}}}
		case "STRICT_SPREAD":
			r.PlacementConstraints = []*rpcpb.PlacementConstraint{{AntiAffinity: &rpcpb.AntiAffinityConstraint{LabelName: label}}}
		}
		g.Requests = append(g.Requests, r)
	}
	return g
}
