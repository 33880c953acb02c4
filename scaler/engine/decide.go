package engine

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// Decide computes the plan for one cluster, following Ray v2's
// ResourceDemandScheduler.schedule step by step:
//
//  1. (outdated nodes: disabled on KubeRay, as in Ray)
//  2. launch what each group lacks to reach min workers;
//  3. terminate the surplus of groups above max workers;
//  4. terminate the surplus above the cluster's worker cap;
//  5. satisfy request_resources constraints, all or nothing, against totals;
//  6. place placement groups, each all or nothing;
//  7. place pending task and actor requests, as many as fit;
//  8. terminate workers idle for longer than their timeout;
//
// then applies v2's upscaling rate limit and turns the result into spec
// replicas. Pods and replicas whose Ray node has not registered count as
// capacity in every step, so nothing is launched twice. now is only compared
// with pod creation times.
//
// Steps 5 to 7 share a fixed budget of bin-packing steps (budget.go): demand
// too large for it is decided on its prefix in Ray's order, and
// Plan.Truncated says so. The head is never a worker of any group, whatever
// its type name; a pod whose Ray node reports a status the engine does not
// know is counted and left alone (Plan.Warnings).
func Decide(c Cluster, s State, pods []Pod, now time.Time) Plan {
	return decide(c, s, pods, now, roundBudget)
}

// decide is Decide with a budget of bin-packing steps (see roundBudget).
func decide(c Cluster, s State, pods []Pod, now time.Time, budget int) Plan {
	d := newDecider(c, s, pods, now)
	d.budget = budget
	d.enforceMin()
	d.enforceMaxPerType()
	d.enforceMaxGlobal()
	d.enforceConstraints()
	d.scheduleGangs()
	d.scheduleDemand()
	d.enforceIdle()
	wanted := d.rateLimit()
	return d.plan(wanted)
}

// plan turns the final context into a Plan.
func (d *decider) plan(wanted []int) Plan {
	p := Plan{Launch: map[string]int{}, Replicas: make(map[string]int, len(d.c.Groups))}
	ng := len(d.c.Groups)
	launched, removed, phantoms := make([]int, ng), make([]int, ng), make([]int, ng)
	terms := slices.Clone(d.offList)
	for _, n := range d.nodes {
		if n.group < 0 || n.head {
			continue
		}
		switch {
		case n.status == toLaunch:
			launched[n.group]++
		case n.kind == kindPhantom:
			phantoms[n.group]++
			if n.status == toTerminate {
				removed[n.group]++
			}
		case n.term != nil:
			terms = append(terms, *n.term)
		}
	}
	for _, t := range terms {
		removed[d.groupIdx[t.Group]]++
	}
	slices.SortFunc(terms, func(a, b Termination) int {
		return cmp.Or(cmp.Compare(d.groupIdx[a.Group], d.groupIdx[b.Group]), strings.Compare(a.Pod, b.Pod))
	})
	p.Terminate = terms

	for g, grp := range d.c.Groups {
		h := grp.Hosts()
		kept := addSat(addSat(d.active[g], phantoms[g]), d.extra[g]-removed[g])
		r := grp.clampReplicas(ceilDiv(addSat(kept, launched[g]), h))
		p.Replicas[grp.Name] = r
		// Count what the replicas bring rather than the nodes asked for: a
		// multi-host group grows by whole replicas, and the bounds may cut.
		if n := addSat(mulSat(r, h), -kept); n > 0 {
			p.Launch[grp.Name] = n
		}
	}
	p.Infeasible = d.infeasible
	p.Decisions = d.decisions(p, wanted, launched)
	if d.truncated.any() {
		t := d.truncated
		p.Truncated = &t
	}
	if len(d.warnings) > 0 {
		p.Warnings = slices.Clone(d.warnings)
		slices.Sort(p.Warnings)
	}
	return p
}
