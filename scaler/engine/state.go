package engine

import (
	"fmt"
	"time"
)

// HeadResource is the resource Ray puts in the head node's totals; it is how
// Ray (and the engine) recognises the head.
const HeadResource = "node:__internal_head__"

// ImplicitResourcePrefix marks Ray's implicit resources: a node that does not
// list one has 1.0 of it.
const ImplicitResourcePrefix = "node:__internal_implicit_resource_"

// State is one snapshot of a Ray cluster as the GCS reports it
// (ClusterResourceState).
type State struct {
	// Nodes are the Ray nodes, alive and dead (node_states).
	Nodes []Node
	// Pending are the pending task and actor requests grouped by shape
	// (pending_resource_requests).
	Pending []ShapeCount
	// Gangs are the pending placement groups
	// (pending_gang_resource_requests). Their order is kept as a tie-breaker.
	Gangs []Gang
	// Constraints are request_resources() constraints
	// (cluster_resource_constraints; the GCS keeps at most one).
	Constraints []Constraint
}

// NodeStatus is a Ray node's status; the values are the NodeStatus numbers of
// autoscaler.proto.
type NodeStatus int

// Ray node statuses.
const (
	NodeUnspecified NodeStatus = 0
	NodeRunning     NodeStatus = 1
	NodeDead        NodeStatus = 2
	NodeIdle        NodeStatus = 3
	NodeDraining    NodeStatus = 4
)

// String returns the proto enum name, or the number of a status the engine
// does not know.
func (s NodeStatus) String() string {
	switch s {
	case NodeUnspecified:
		return "UNSPECIFIED"
	case NodeRunning:
		return "RUNNING"
	case NodeDead:
		return "DEAD"
	case NodeIdle:
		return "IDLE"
	case NodeDraining:
		return "DRAINING"
	}
	return fmt.Sprintf("NodeStatus(%d)", int(s))
}

// alive reports whether the node runs Ray and can take work.
func (s NodeStatus) alive() bool {
	return s == NodeRunning || s == NodeIdle
}

// known reports whether the engine knows what the status means. Any other
// value (UNSPECIFIED, or a status a newer Ray added) is left alone: its pod
// counts as existing and is never terminated, as Ray's reconciler makes no
// transition for a status it cannot map (Reconciler.
// _reconciled_im_status_from_ray_status in
// python/ray/autoscaler/v2/instance_manager/reconciler.py returns None).
func (s NodeStatus) known() bool {
	return s.alive() || s == NodeDead || s == NodeDraining
}

// Node is one Ray node (NodeState).
type Node struct {
	// ID is the hex node id, used for DrainNode.
	ID string
	// InstanceID is RAY_CLOUD_INSTANCE_ID, the pod name on KubeRay.
	InstanceID string
	// Type is ray_node_type_name, the worker group name (or "headgroup").
	// It never identifies the head: a worker group may carry the head
	// group's name.
	Type string
	// IP is the node's address; it identifies the pod when InstanceID is
	// empty (older KubeRay or Ray).
	IP string
	// Status is the node's status.
	Status NodeStatus
	// Total and Available are the node's resources. A resource missing from
	// Available counts as fully used, as in Ray.
	Total, Available map[string]float64
	// Labels are the node's labels and dynamic labels (the GCS puts "_PG_<id>"
	// there for every placement group with a bundle on the node).
	Labels map[string]string
	// Idle is how long the node has been idle (idle_duration_ms).
	Idle time.Duration
	// Head marks the head node. A node with HeadResource in Total, or whose
	// InstanceID (IP when it has none) is a Pod with Head set, is the head as
	// well.
	Head bool
}

// IsHead reports whether n is the cluster's head node.
func (n Node) IsHead() bool {
	if n.Head {
		return true
	}
	_, ok := n.Total[HeadResource]
	return ok
}

// Request is one resource request: a task or actor shape, a placement-group
// bundle or a request_resources bundle.
type Request struct {
	// Resources is the bundle, e.g. {"CPU": 1, "GPU": 1}.
	Resources map[string]float64
	// Selectors is the label-selector fallback list: a node must satisfy at
	// least one, and an earlier one is preferred.
	Selectors []LabelSelector
}

// LabelSelector is a conjunction of label constraints.
type LabelSelector []LabelConstraint

// LabelOp is a label-selector operator; the values are autoscaler.proto's
// LabelSelectorOperator numbers.
type LabelOp int

// Label-selector operators. Any other value never matches, as in Ray.
const (
	LabelIn    LabelOp = 1
	LabelNotIn LabelOp = 2
)

// LabelConstraint is one label condition: the node's value of Key must (In) or
// must not (NotIn) be among Values. A missing label passes NotIn.
type LabelConstraint struct {
	Key    string
	Op     LabelOp
	Values []string
}

// ShapeCount is Count requests of one shape.
type ShapeCount struct {
	Request
	Count int
}

// Strategy is a placement group strategy.
type Strategy string

// Placement group strategies.
const (
	Pack         Strategy = "PACK"
	Spread       Strategy = "SPREAD"
	StrictPack   Strategy = "STRICT_PACK"
	StrictSpread Strategy = "STRICT_SPREAD"
)

// Gang is one pending placement group. It is placed all or nothing.
type Gang struct {
	// ID is the placement group id in hex. STRICT_SPREAD avoids nodes that
	// carry the label "_PG_<ID>", i.e. that already hold one of its bundles.
	ID string
	// Strategy is the placement strategy; an unknown value behaves like PACK.
	Strategy Strategy
	// Bundles are the bundles still to place.
	Bundles []Request
}

// Constraint is one request_resources() call: the cluster must be able to hold
// all of its bundles at once, counted against total (not available)
// resources. It is satisfied all or nothing.
type Constraint struct {
	Bundles []ShapeCount
}

// Pod is one pod of the cluster as Kubernetes reports it. The caller checks
// the pod's ray.io/cluster label; the engine ignores pods whose Group is not a
// worker group of the Cluster, and never counts or terminates a head pod.
type Pod struct {
	// Name is the pod name (the Ray node's InstanceID).
	Name string
	// Group is the ray.io/group label.
	Group string
	// IP is the pod IP, used when a Ray node has no InstanceID.
	IP string
	// Running reports whether the Ray container is running.
	Running bool
	// Deleting reports a deletionTimestamp: the pod is going away.
	Deleting bool
	// ListedForDeletion reports that the pod is already in its group's
	// scaleStrategy.workersToDelete (and so no longer counted in replicas).
	ListedForDeletion bool
	// Created is the pod's creation time; zero disables the allocation
	// timeout for this pod.
	Created time.Time
	// Head reports the head pod (label ray.io/node-type=head). It is never a
	// worker, whatever its Group, and the Ray node on it is the head.
	Head bool
}
