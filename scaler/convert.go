package scaler

import (
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler/engine"
	"github.com/raypilot/raypilot/scaler/gcs/rpcpb"
)

// StateFromProto converts Ray's ClusterResourceState into the engine's input.
func StateFromProto(st *rpcpb.ClusterResourceState) engine.State {
	var out engine.State
	for _, n := range st.GetNodeStates() {
		labels := map[string]string{}
		for k, v := range n.GetLabels() {
			labels[k] = v
		}
		for k, v := range n.GetDynamicLabels() {
			labels[k] = v
		}
		out.Nodes = append(out.Nodes, engine.Node{
			ID:         hex.EncodeToString(n.GetNodeId()),
			InstanceID: n.GetInstanceId(),
			Type:       n.GetRayNodeTypeName(),
			IP:         n.GetNodeIpAddress(),
			Status:     engine.NodeStatus(n.GetStatus()),
			Total:      n.GetTotalResources(),
			Available:  n.GetAvailableResources(),
			Labels:     labels,
			Idle:       idleDuration(n.GetIdleDurationMs()),
		})
	}
	out.Pending = shapeCounts(st.GetPendingResourceRequests())
	for i, g := range st.GetPendingGangResourceRequests() {
		// The GCS appends a gang entry before it looks at the placement
		// group's bundles, so an entry can come without any: no demand.
		if len(gangBundles(g)) == 0 {
			continue
		}
		out.Gangs = append(out.Gangs, gang(i, g))
	}
	for _, c := range st.GetClusterResourceConstraints() {
		out.Constraints = append(out.Constraints, constraint(c))
	}
	return out
}

func constraint(c *rpcpb.ClusterResourceConstraint) engine.Constraint {
	return engine.Constraint{Bundles: shapeCounts(c.GetResourceRequests())}
}

// shapeCounts converts counted requests, leaving out those with no
// positive count: they ask for nothing (the GCS itself sends only shapes
// with pending units), and kept they would count as demand.
func shapeCounts(rs []*rpcpb.ResourceRequestByCount) []engine.ShapeCount {
	var out []engine.ShapeCount
	for _, r := range rs {
		if r.GetCount() > 0 {
			out = append(out, engine.ShapeCount{Request: request(r.GetRequest()), Count: int(r.GetCount())})
		}
	}
	return out
}

// idleDuration is idle_duration_ms as a Duration, saturating instead of
// overflowing (a wrapped value could make a long-idle node look busy) and
// never negative.
func idleDuration(ms int64) time.Duration {
	const maxMs = math.MaxInt64 / int64(time.Millisecond)
	return time.Duration(min(max(ms, 0), maxMs)) * time.Millisecond
}

func request(r *rpcpb.ResourceRequest) engine.Request {
	out := engine.Request{Resources: r.GetResourcesBundle()}
	for _, sel := range r.GetLabelSelectors() {
		var ls engine.LabelSelector
		for _, c := range sel.GetLabelConstraints() {
			// The numbers are the same; an operator the engine does not know
			// never matches, as in Ray.
			ls = append(ls, engine.LabelConstraint{Key: c.GetLabelKey(), Op: engine.LabelOp(c.GetOperator()), Values: c.GetLabelValues()})
		}
		out.Selectors = append(out.Selectors, ls)
	}
	return out
}

// gang reads a placement group's strategy as Ray encodes it: affinity on
// _PG_<id> is STRICT_PACK, anti-affinity STRICT_SPREAD; otherwise the
// details string ("<id>:<STRATEGY>|<state>") tells PACK from SPREAD. The ID
// is the <id> part: the engine matches it against the nodes' _PG_<id> labels.
func gang(i int, g *rpcpb.GangResourceRequest) engine.Gang {
	out := engine.Gang{ID: gangKey(i, g), Strategy: engine.Pack}
	if strings.Contains(g.GetDetails(), ":SPREAD") {
		out.Strategy = engine.Spread
	}
	for _, r := range gangBundles(g) {
		for _, pc := range r.GetPlacementConstraints() {
			switch {
			case pc.GetAffinity() != nil:
				out.Strategy = engine.StrictPack
			case pc.GetAntiAffinity() != nil:
				out.Strategy = engine.StrictSpread
			}
		}
		out.Bundles = append(out.Bundles, request(r))
	}
	return out
}

// gangBundles returns a placement group's bundles. The GCS fills both
// bundle_selectors[0].resource_requests and the legacy requests field with
// the same bundles and placement constraints, but puts each bundle's
// label_selectors only on the former (GetPendingGangResourceRequests in
// src/ray/gcs/gcs_autoscaler_state_manager.cc; autoscaler.proto marks
// requests deprecated). bundle_selectors is a fallback list; the GCS emits
// exactly one, and the scheduler plans for the first. A GCS from before
// bundle_selectors existed sends only requests.
func gangBundles(g *rpcpb.GangResourceRequest) []*rpcpb.ResourceRequest {
	for _, sel := range g.GetBundleSelectors() {
		if len(sel.GetResourceRequests()) > 0 {
			return sel.GetResourceRequests()
		}
	}
	return g.GetRequests()
}

// gangKey is the id the engine knows the i-th gang by: its placement group
// id, or a made-up one when the GCS gave none.
func gangKey(i int, g *rpcpb.GangResourceRequest) string {
	if id := gangID(g.GetDetails()); id != "" {
		return id
	}
	return fmt.Sprintf("gang-%d", i)
}

// gangID is the placement group id in a GangResourceRequest's details.
func gangID(details string) string {
	id, _, _ := strings.Cut(details, ":")
	return id
}

// Pod labels KubeRay puts on every Ray pod.
const (
	LabelCluster  = "ray.io/cluster"
	LabelGroup    = "ray.io/group"
	LabelNodeType = "ray.io/node-type"
)

// PodsFromKube converts the pods of one cluster for the engine. Only pods
// carrying this cluster's label are passed on, so the engine can never plan
// for another cluster's pod: workers with a group label, and the head
// (ray.io/node-type=head, Head set), by which the engine recognises the
// head's Ray node whatever its group name. The engine never counts or
// terminates the head.
func PodsFromKube(cluster string, pods []corev1.Pod, listed map[string]bool) []engine.Pod {
	var out []engine.Pod
	for i := range pods {
		p := &pods[i]
		if p.Labels[LabelCluster] != cluster {
			continue
		}
		head := p.Labels[LabelNodeType] == "head"
		if !head && (p.Labels[LabelNodeType] != "worker" || p.Labels[LabelGroup] == "") {
			continue
		}
		out = append(out, engine.Pod{
			Name:              p.Name,
			Group:             p.Labels[LabelGroup],
			IP:                p.Status.PodIP,
			Running:           p.Status.Phase == corev1.PodRunning,
			Deleting:          p.DeletionTimestamp != nil,
			ListedForDeletion: listed[p.Name],
			Created:           p.CreationTimestamp.Time,
			Head:              head,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
