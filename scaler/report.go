package scaler

import (
	"fmt"
	"math"
	"reflect"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// maxReportedInfeasible bounds the infeasible resource requests one report
// carries. Ray's autoscaler reports one entry per pending unit
// (Reconciler._make_autoscaling_state expands each count), which for a
// backlog of millions of tasks would be a reply of tens of MiB. The GCS
// uses the entries for their shapes (which leases to cancel with
// enable_infeasible_task_early_exit) and their number (whether to warn the
// drivers again); past this bound only the number is lower than Ray's.
const maxReportedInfeasible = 10_000

// autoscalingState is what the scaler reports back to Ray, so that `ray
// status` shows pending launches and infeasible demand. Infeasible demand
// is reported as Ray's v2 autoscaler reports it (the scheduler's reply, put
// into the state by Reconciler._scale_cluster in
// python/ray/autoscaler/v2/instance_manager/reconciler.py): the GCS's own
// request messages, label selectors and placement constraints included,
// one resource request per unit, the placement groups and constraints as
// the GCS sent them. Reporting differs from Ray's only where the scaler
// decided less than Ray would (a truncated round reports nothing of the
// demand it left undecided).
func autoscalingState(seen *rpcpb.ClusterResourceState, plan engine.Plan, version int64) *rpcpb.AutoscalingState {
	st := &rpcpb.AutoscalingState{
		LastSeenClusterResourceStateVersion: seen.GetClusterResourceStateVersion(),
		AutoscalerStateVersion:              version,
	}
	for _, group := range sortedKeys(plan.Launch) {
		if n := plan.Launch[group]; n > 0 {
			st.PendingInstanceRequests = append(st.PendingInstanceRequests, &rpcpb.PendingInstanceRequest{
				RayNodeTypeName: group, InstanceTypeName: group, Count: int32(min(n, math.MaxInt32)),
			})
		}
	}
	origin := originsOf(seen)
	for _, r := range plan.Infeasible.Requests {
		msg := origin.requests[requestKey(r.Request)]
		if msg == nil {
			msg = requestMessage(r.Request)
		}
		for i := 0; i < r.Count && len(st.InfeasibleResourceRequests) < maxReportedInfeasible; i++ {
			st.InfeasibleResourceRequests = append(st.InfeasibleResourceRequests, msg)
		}
	}
	for _, g := range plan.Infeasible.Gangs {
		msg := origin.gangs[g.ID]
		if msg == nil {
			msg = &rpcpb.GangResourceRequest{Details: g.ID}
			for _, b := range g.Bundles {
				msg.Requests = append(msg.Requests, requestMessage(b))
			}
		}
		st.InfeasibleGangResourceRequests = append(st.InfeasibleGangResourceRequests, msg)
	}
	for _, c := range plan.Infeasible.Constraints {
		st.InfeasibleClusterResourceConstraints = append(st.InfeasibleClusterResourceConstraints, origin.constraint(c))
	}
	return st
}

// origins finds the GCS's message behind each item of the engine's input.
type origins struct {
	requests    map[string]*rpcpb.ResourceRequest
	gangs       map[string]*rpcpb.GangResourceRequest
	constraints []*rpcpb.ClusterResourceConstraint
}

func originsOf(seen *rpcpb.ClusterResourceState) origins {
	o := origins{requests: map[string]*rpcpb.ResourceRequest{}, gangs: map[string]*rpcpb.GangResourceRequest{},
		constraints: seen.GetClusterResourceConstraints()}
	for _, p := range seen.GetPendingResourceRequests() {
		k := requestKey(request(p.GetRequest()))
		if _, dup := o.requests[k]; !dup {
			o.requests[k] = p.GetRequest()
		}
	}
	for i, g := range seen.GetPendingGangResourceRequests() {
		o.gangs[gangKey(i, g)] = g
	}
	return o
}

// constraint returns the GCS's constraint the engine's c came from, or one
// built from c.
func (o origins) constraint(c engine.Constraint) *rpcpb.ClusterResourceConstraint {
	for _, m := range o.constraints {
		if reflect.DeepEqual(constraint(m), c) {
			return m
		}
	}
	m := &rpcpb.ClusterResourceConstraint{}
	for _, b := range c.Bundles {
		m.ResourceRequests = append(m.ResourceRequests, &rpcpb.ResourceRequestByCount{Request: requestMessage(b.Request), Count: int64(b.Count)})
	}
	return m
}

// requestKey identifies a request as the engine sees it (fmt prints maps
// with sorted keys).
func requestKey(r engine.Request) string { return fmt.Sprint(r.Resources, r.Selectors) }

// requestMessage is the proto form of an engine request.
func requestMessage(r engine.Request) *rpcpb.ResourceRequest {
	m := &rpcpb.ResourceRequest{ResourcesBundle: r.Resources}
	for _, sel := range r.Selectors {
		ls := &rpcpb.LabelSelector{}
		for _, c := range sel {
			ls.LabelConstraints = append(ls.LabelConstraints, &rpcpb.LabelSelectorConstraint{
				LabelKey: c.Key, Operator: rpcpb.LabelSelectorOperator(c.Op), LabelValues: c.Values,
			})
		}
		m.LabelSelectors = append(m.LabelSelectors, ls)
	}
	return m
}
