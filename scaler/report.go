package scaler

import (
	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// autoscalingState is what the scaler reports back to Ray, so `ray status`
// shows pending launches and infeasible demand.
func autoscalingState(seen *rpcpb.ClusterResourceState, plan engine.Plan, version int64) *rpcpb.AutoscalingState {
	st := &rpcpb.AutoscalingState{
		LastSeenClusterResourceStateVersion: seen.GetClusterResourceStateVersion(),
		AutoscalerStateVersion:              version,
	}
	for _, group := range sortedKeys(plan.Launch) {
		if n := plan.Launch[group]; n > 0 {
			st.PendingInstanceRequests = append(st.PendingInstanceRequests, &rpcpb.PendingInstanceRequest{
				RayNodeTypeName: group, InstanceTypeName: group, Count: int32(n),
			})
		}
	}
	for _, r := range plan.Infeasible.Requests {
		for i := 0; i < r.Count; i++ {
			st.InfeasibleResourceRequests = append(st.InfeasibleResourceRequests, &rpcpb.ResourceRequest{ResourcesBundle: r.Resources})
		}
	}
	// Infeasible gangs go back with the GCS's own details string
	// ("<id>:<STRATEGY>|<state>"), as Ray's autoscaler reports them.
	details := map[string]string{}
	for _, g := range seen.GetPendingGangResourceRequests() {
		details[gangID(g.GetDetails())] = g.GetDetails()
	}
	for _, g := range plan.Infeasible.Gangs {
		gr := &rpcpb.GangResourceRequest{Details: g.ID}
		if d, ok := details[g.ID]; ok {
			gr.Details = d
		}
		for _, b := range g.Bundles {
			gr.Requests = append(gr.Requests, &rpcpb.ResourceRequest{ResourcesBundle: b.Resources})
		}
		st.InfeasibleGangResourceRequests = append(st.InfeasibleGangResourceRequests, gr)
	}
	for _, c := range plan.Infeasible.Constraints {
		cc := &rpcpb.ClusterResourceConstraint{}
		for _, b := range c.Bundles {
			cc.ResourceRequests = append(cc.ResourceRequests, &rpcpb.ResourceRequestByCount{
				Request: &rpcpb.ResourceRequest{ResourcesBundle: b.Resources}, Count: int64(b.Count),
			})
		}
		st.InfeasibleClusterResourceConstraints = append(st.InfeasibleClusterResourceConstraints, cc)
	}
	return st
}
