package main

import (
	"fmt"
	"time"

	rayv1 "github.com/ray-project/kuberay/ray-operator/apis/ray/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/raypilot/raypilot/scaler"
	"github.com/raypilot/raypilot/scaler/engine"
)

// planOutput is the document `raypilot plan` prints (-o json and yaml; the
// text output says the same).
type planOutput struct {
	// Cluster is the live cluster the plan read (--cluster only).
	Cluster   *planCluster      `json:"cluster,omitempty"`
	Launch    map[string]int    `json:"launch"`
	Terminate []planTermination `json:"terminate"`
	// UnnamedTerminations counts, per group, the terminations the plan
	// decided but cannot name: without --pods no pod name can be verified.
	UnnamedTerminations map[string]int `json:"unnamedTerminations"`
	Infeasible          planDemand     `json:"infeasible"`
	Replicas            map[string]int `json:"replicas"`
	// Groups are the worker groups, in the RayCluster's order: their
	// replicas now, bounds and desired replicas.
	Groups []planGroup `json:"groups"`
	// Pending is the demand Ray reported waiting for resources.
	Pending planDemand `json:"pending"`
	// Idle are the idle worker nodes, drained or kept.
	Idle      []planIdle `json:"idle"`
	Decisions []string   `json:"decisions"`
	// Truncated is set when the demand was too large for one scaling round.
	Truncated *planTruncation `json:"truncated,omitempty"`
	// Notes say what the plan left out or alone: unnamed terminations,
	// ignored pods, truncated demand, Ray nodes in an unknown status.
	Notes []string `json:"notes"`
}

// planCluster is what `raypilot plan --cluster` read, and whether the
// scaler acts on the cluster now.
type planCluster struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// RayVersion is what the GCS reported ("" when it did not say).
	RayVersion string `json:"rayVersion"`
	// GCS says how the GCS was reached.
	GCS string `json:"gcs"`
	// Auth says the Ray credential sent to the GCS, as the scaler finds it
	// in the head pod's Ray container (the mode and where the token came
	// from), never the token.
	Auth string `json:"auth"`
	// ScalerActs: the scaler carries out this plan in its next round. When
	// false, LeftAlone says why not; the plan is what it would decide once
	// it acts.
	ScalerActs bool     `json:"scalerActs"`
	LeftAlone  []string `json:"leftAlone"`
}

// planTermination is one pod the engine would remove.
type planTermination struct {
	Pod    string `json:"pod"`
	Group  string `json:"group"`
	Cause  string `json:"cause"`
	Reason string `json:"reason,omitempty"`
}

// planTruncation is engine.Truncation: what one scaling round decided on
// of the demand, and how much there was.
type planTruncation struct {
	Shapes       int `json:"shapes"`
	ShapesTotal  int `json:"shapesTotal"`
	Requests     int `json:"requestsLeftOut"`
	Gangs        int `json:"placementGroups"`
	GangsTotal   int `json:"placementGroupsTotal"`
	Bundles      int `json:"constraintShapes"`
	BundlesTotal int `json:"constraintShapesTotal"`
	Replicas     int `json:"replicasNotModelled"`
}

// planDemand is demand: requests by shape, and how many placement groups
// and request_resources constraints. As "infeasible", the part no allowed
// cluster shape can satisfy.
type planDemand struct {
	Requests    []planRequest `json:"requests"`
	Gangs       int           `json:"gangs"`
	Constraints int           `json:"constraints"`
}

// planRequest is Count pending requests of one shape.
type planRequest struct {
	Resources map[string]float64 `json:"resources"`
	Count     int                `json:"count"`
}

// planGroup is one worker group: its replicas as the engine reads the
// RayCluster (KubeRay's defaults applied), the worker pods that count, and
// what the plan makes of them.
type planGroup struct {
	Name     string `json:"name"`
	Replicas int    `json:"replicas"`
	Min      int    `json:"minReplicas"`
	Max      int    `json:"maxReplicas"`
	Desired  int    `json:"desired"`
	// Pods are the group's worker pods neither deleted nor listed in
	// workersToDelete.
	Pods      int `json:"pods"`
	Launch    int `json:"launch"`
	Terminate int `json:"terminate"`
}

// planIdle is one idle worker node and what the plan does with it.
type planIdle struct {
	// Node is the Ray node id (hex).
	Node string `json:"node"`
	// Pod is set only for a verified worker pod (see planToOutput).
	Pod            string  `json:"pod,omitempty"`
	Group          string  `json:"group"`
	IdleSeconds    float64 `json:"idleSeconds"`
	TimeoutSeconds float64 `json:"timeoutSeconds"`
	Drain          bool    `json:"drain"`
	Why            string  `json:"why"`
}

// planToOutput renders decision d about rc (c: rc's engine view, as
// scaler.ClusterFor gives it) with empty collections instead of nulls. A
// termination or idle node is named only when it names a pod of pods (the
// verified --pods input or the API server's list; named says there was
// one) that is a worker of its group in rc; a termination that is not is
// only counted in UnnamedTerminations, and a note says why.
func planToOutput(d scaler.Decision, c engine.Cluster, rc *rayv1.RayCluster, pods []corev1.Pod, named bool) planOutput {
	p := d.Plan
	out := planOutput{
		Launch:              map[string]int{},
		Terminate:           []planTermination{},
		UnnamedTerminations: map[string]int{},
		Infeasible:          planDemandOf(p.Infeasible.Requests, len(p.Infeasible.Gangs), len(p.Infeasible.Constraints)),
		Replicas:            map[string]int{},
		Groups:              []planGroup{},
		Pending:             planDemandOf(d.State.Pending, len(d.State.Gangs), len(d.State.Constraints)),
		Idle:                []planIdle{},
		Decisions:           []string{},
		Notes:               []string{},
	}
	if t := p.Truncated; t != nil {
		out.Truncated = &planTruncation{t.Shapes, t.ShapesTotal, t.Requests, t.Gangs, t.GangsTotal, t.Bundles, t.BundlesTotal, t.Replicas}
	}
	for g, n := range p.Launch {
		if n > 0 {
			out.Launch[g] = n
		}
	}
	for g, n := range p.Replicas {
		out.Replicas[g] = n
	}
	workers := map[string]string{} // verified worker pod → group
	if named {
		for i := range pods {
			if p := &pods[i]; p.Labels[scaler.LabelNodeType] == "worker" && p.Labels[scaler.LabelCluster] == rc.Name {
				workers[p.Name] = p.Labels[scaler.LabelGroup]
			}
		}
	}
	verified := func(pod, group string) bool {
		g, ok := workers[pod]
		return ok && g == group && planHasGroup(rc, group)
	}
	unnamed := 0
	for _, t := range p.Terminate {
		if !verified(t.Pod, t.Group) {
			out.UnnamedTerminations[t.Group]++
			unnamed++
			continue
		}
		out.Terminate = append(out.Terminate, planTermination{Pod: t.Pod, Group: t.Group, Cause: string(t.Cause), Reason: t.Reason})
	}
	switch {
	case unnamed > 0 && !named:
		out.Notes = append(out.Notes, fmt.Sprintf("%s counted, not named: without --pods no pod name can be verified; pass the cluster's pods with --pods to name them", planPlural(unnamed, "termination")))
	case unnamed > 0:
		out.Notes = append(out.Notes, fmt.Sprintf("%s counted, not named: not a worker pod of its group in --pods", planPlural(unnamed, "termination")))
	}
	out.Groups = planGroups(p, c, rc, pods)
	out.Idle = planIdleNodes(d, c, verified)
	for _, d := range p.Decisions {
		out.Decisions = append(out.Decisions, d.String())
	}
	if p.Truncated != nil {
		out.Notes = append(out.Notes, p.Truncated.String())
	}
	out.Notes = append(out.Notes, p.Warnings...)
	return out
}

// planDemandOf is demand as printed.
func planDemandOf(requests []engine.ShapeCount, gangs, constraints int) planDemand {
	out := planDemand{Requests: []planRequest{}, Gangs: gangs, Constraints: constraints}
	for _, r := range requests {
		out.Requests = append(out.Requests, planRequest{Resources: r.Resources, Count: r.Count})
	}
	return out
}

// planGroups are c's worker groups with what plan p does to each. A pod
// counts as the engine counts it (scaler.PodsFromKube): a worker of rc
// with the group's label, not deleted and not in workersToDelete.
func planGroups(p engine.Plan, c engine.Cluster, rc *rayv1.RayCluster, pods []corev1.Pod) []planGroup {
	listed := map[string]bool{}
	for _, g := range rc.Spec.WorkerGroupSpecs {
		for _, name := range g.ScaleStrategy.WorkersToDelete {
			listed[name] = true
		}
	}
	counted := map[string]int{}
	for _, pod := range scaler.PodsFromKube(rc.Name, pods, listed) {
		if !pod.Head && !pod.Deleting && !pod.ListedForDeletion {
			counted[pod.Group]++
		}
	}
	terminate := map[string]int{}
	for _, t := range p.Terminate {
		terminate[t.Group]++
	}
	out := []planGroup{}
	for _, g := range c.Groups {
		desired, ok := p.Replicas[g.Name]
		if !ok {
			desired = g.Replicas
		}
		out = append(out, planGroup{Name: g.Name, Replicas: g.Replicas, Min: g.MinReplicas, Max: g.MaxReplicas, Desired: desired,
			Pods: counted[g.Name], Launch: p.Launch[g.Name], Terminate: terminate[g.Name]})
	}
	return out
}

// planIdleNodes are the idle worker nodes of d's state that run Ray, with
// their timeout (the group's idleTimeoutSeconds, else the cluster's) and
// whether the plan drains them. verified tells whether a pod name may be
// printed.
func planIdleNodes(d scaler.Decision, c engine.Cluster, verified func(pod, group string) bool) []planIdle {
	timeouts := map[string]time.Duration{}
	for _, g := range c.Groups {
		timeouts[g.Name] = c.IdleTimeout
		if g.IdleTimeout != nil {
			timeouts[g.Name] = *g.IdleTimeout
		}
	}
	drained := map[string]engine.Termination{}
	for _, t := range d.Plan.Terminate {
		if t.NodeID != "" {
			drained[t.NodeID] = t
		}
	}
	out := []planIdle{}
	for _, n := range d.State.Nodes {
		timeout, worker := timeouts[n.Type]
		if n.IsHead() || !worker || n.Idle <= 0 || (n.Status != engine.NodeRunning && n.Status != engine.NodeIdle) {
			continue
		}
		timeout = max(timeout, 0)
		idle := planIdle{Node: n.ID, Group: n.Type, IdleSeconds: n.Idle.Seconds(), TimeoutSeconds: timeout.Seconds()}
		if verified(n.InstanceID, n.Type) {
			idle.Pod = n.InstanceID
		}
		t, drain := drained[n.ID]
		switch {
		case drain:
			idle.Drain, idle.Why = true, t.Reason
		case n.Idle <= timeout:
			idle.Why = fmt.Sprintf("idle for %s, within the timeout %s", n.Idle, timeout)
		default:
			// The engine keeps such a node only for these reasons
			// (scaler/engine/idle.go enforceIdle).
			idle.Why = fmt.Sprintf("idle for %s > timeout %s, but kept: this round places demand on it, its pod is going away "+
				"already, or removing it would take its group below minReplicas or split a multi-host replica", n.Idle, timeout)
		}
		out = append(out, idle)
	}
	return out
}

func planHasGroup(rc *rayv1.RayCluster, group string) bool {
	for _, g := range rc.Spec.WorkerGroupSpecs {
		if g.GroupName == group {
			return true
		}
	}
	return false
}

func planPlural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
