package engine

import (
	"fmt"
	"time"
)

// Plan is what Decide wants done to one cluster. It may share maps and
// slices with Decide's input (the infeasible requests and gangs are the
// input's own); treat both as read-only.
type Plan struct {
	// Launch is the number of new worker pods (Ray nodes) per group that
	// Replicas brings, after the upscaling rate limit. A group with
	// numOfHosts > 1 grows by whole replicas. Groups with nothing to launch
	// are absent.
	Launch map[string]int
	// Terminate lists the pods to remove, sorted by group then pod.
	Terminate []Termination
	// Replicas is the spec replicas every worker group should have once the
	// launches and terminations are applied, always within [minReplicas,
	// maxReplicas] (maxReplicas when they are inverted). A termination that
	// does not happen (a drain Ray rejects) must add one back.
	Replicas map[string]int
	// Infeasible is the demand that no allowed cluster shape can satisfy.
	Infeasible Infeasible
	// Decisions explain every group whose replicas change or that launches or
	// terminates, sorted by group.
	Decisions []Decision
	// Truncated is set when the round decided on part of the demand only
	// (see Truncation); nil when it considered all of it.
	Truncated *Truncation
	// Warnings name what the plan deliberately left alone, e.g. a pod whose
	// Ray node reports a status the engine does not know. Sorted.
	Warnings []string
}

// Cause says why a pod is terminated. The first four are Ray's
// TerminationRequest causes; the last two are the instance-manager
// transitions that remove pods on Ray v2.
type Cause string

// Termination causes.
const (
	// CauseIdle: the node was idle for longer than its idle timeout. Drain it
	// with DRAIN_NODE_REASON_IDLE_TERMINATION, which Ray may reject.
	CauseIdle Cause = "IDLE"
	// CauseMaxPerType: the group has more workers than maxReplicas allows.
	CauseMaxPerType Cause = "MAX_NUM_NODE_PER_TYPE"
	// CauseMaxNodes: the cluster has more workers than its cap allows.
	CauseMaxNodes Cause = "MAX_NUM_NODES"
	// CauseOutdated is Ray's launch-config-hash check. It is never emitted:
	// Ray disables the check on KubeRay (pods are never recreated on template
	// changes), and so does the engine.
	CauseOutdated Cause = "OUTDATED"
	// CauseRayStopped: the pod's Ray node is DEAD, so the pod is useless
	// (Ray's RAY_STOPPED → TERMINATING). Nothing to drain.
	CauseRayStopped Cause = "RAY_STOPPED"
	// CauseAllocationTimeout: the pod never got a Ray node within the
	// allocate timeout (Ray's ALLOCATION_TIMEOUT). Nothing to drain.
	CauseAllocationTimeout Cause = "ALLOCATION_TIMEOUT"
)

// Termination is one pod to remove.
type Termination struct {
	// Pod is the pod name, to go into workersToDelete.
	Pod string
	// Group is the pod's worker group.
	Group string
	// NodeID is the pod's Ray node id, empty when Ray never registered.
	NodeID string
	// Cause is why.
	Cause Cause
	// Drain reports that Ray runs on the pod: drain the node (and wait for the
	// drain to be accepted) before listing the pod.
	Drain bool
	// Idle is the node's idle duration, for the drain message.
	Idle time.Duration
	// Reason is a human-readable explanation.
	Reason string
}

// Infeasible is demand that cannot be satisfied within the groups' and the
// cluster's maxima. It feeds ReportAutoscalingState and Events.
type Infeasible struct {
	// Requests are the pending requests left over, by shape.
	Requests []ShapeCount
	// Gangs are the placement groups that cannot be placed as a whole.
	Gangs []Gang
	// Constraints are the request_resources constraints that cannot be met.
	Constraints []Constraint
}

// Empty reports whether nothing is infeasible.
func (i Infeasible) Empty() bool {
	return len(i.Requests) == 0 && len(i.Gangs) == 0 && len(i.Constraints) == 0
}

// Decision explains one group's change.
type Decision struct {
	// Group is the worker group.
	Group string
	// From is the current spec replicas, To the planned one.
	From, To int
	// Reason says why, e.g. "1 pending request {CPU: 1}".
	Reason string
}

// String renders the decision as in an Event: "small-wg 0→1: 1 pending
// request {CPU: 1}".
func (d Decision) String() string {
	return fmt.Sprintf("%s %d→%d: %s", d.Group, d.From, d.To, d.Reason)
}
