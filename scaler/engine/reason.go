package engine

import (
	"fmt"
	"strings"
)

// decisions explains every group that launches, terminates or changes
// replicas, in group order.
func (d *decider) decisions(p Plan, wanted, launched []int) []Decision {
	var out []Decision
	for g, grp := range d.c.Groups {
		to := p.Replicas[grp.Name]
		var parts []string
		if launched[g] > 0 {
			parts = append(parts, d.launchReasons(g)...)
			if wanted[g] > launched[g] {
				parts = append(parts, fmt.Sprintf("launching %d of %d now (upscaling rate limit)", launched[g], wanted[g]))
			}
		}
		if t := terminationSummary(p.Terminate, grp.Name); t != "" {
			parts = append(parts, t)
		}
		if len(parts) == 0 && to != grp.Replicas {
			parts = append(parts, boundsReason(grp, d.active[g]))
		}
		if len(parts) == 0 {
			continue
		}
		out = append(out, Decision{Group: grp.Name, From: grp.Replicas, To: to, Reason: strings.Join(parts, "; ")})
	}
	return out
}

// boundsReason explains a replicas change without launches or terminations:
// the spec was outside its bounds (KubeRay already acts on the clamped value)
// or fewer than the pods that exist.
func boundsReason(g Group, pods int) string {
	switch {
	case g.Replicas < g.MinReplicas && g.MinReplicas <= g.MaxReplicas:
		return fmt.Sprintf("replicas %d is below minReplicas %d", g.Replicas, g.MinReplicas)
	case g.Replicas > g.MaxReplicas:
		return fmt.Sprintf("replicas %d is above maxReplicas %d", g.Replicas, g.MaxReplicas)
	}
	if pods == 1 {
		return "1 pod exists"
	}
	return fmt.Sprintf("%d pods exist", pods)
}

// maxReasonItems bounds the request shapes and placement groups one decision
// names, so that an Event stays readable (and within the API server's size
// limit) when thousands of shapes launch workers.
const maxReasonItems = 5

// launchReasons lists what the group's new workers are for: min workers,
// pending requests by shape, placement groups, request_resources.
func (d *decider) launchReasons(g int) []string {
	minN := 0
	var shapes []*creq
	shapeN := map[*creq]int{}
	var gangs []*Gang
	seenGang := map[*Gang]bool{}
	constraintN := 0
	for _, n := range d.nodes {
		if n.group != g || n.status != toLaunch {
			continue
		}
		if n.forMin {
			minN++
		}
		for _, pl := range n.placed {
			switch pl.q.origin {
			case fromDemand:
				if shapeN[pl.q] == 0 {
					shapes = append(shapes, pl.q)
				}
				shapeN[pl.q] = addSat(shapeN[pl.q], pl.n)
			case fromGang:
				if !seenGang[pl.q.gang] {
					seenGang[pl.q.gang] = true
					gangs = append(gangs, pl.q.gang)
				}
			case fromConstraint:
				constraintN = addSat(constraintN, pl.n)
			}
		}
	}
	var parts []string
	if minN > 0 {
		parts = append(parts, fmt.Sprintf("%s to reach min workers %d", plural(minN, "worker"), d.c.Groups[g].MinWorkers()))
	}
	for i, q := range shapes {
		if i == maxReasonItems {
			rest := 0
			for _, q := range shapes[i:] {
				rest = addSat(rest, shapeN[q])
			}
			parts = append(parts, fmt.Sprintf("%s of %s", plural(rest, "pending request"), plural(len(shapes)-i, "more shape")))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s", plural(shapeN[q], "pending request"), shapeString(q.sorted)))
	}
	for i, gg := range gangs {
		if i == maxReasonItems {
			parts = append(parts, plural(len(gangs)-i, "more placement group"))
			break
		}
		parts = append(parts, fmt.Sprintf("placement group %s (%s, %s)", gg.ID, gg.Strategy, plural(len(gg.Bundles), "bundle")))
	}
	if constraintN > 0 {
		parts = append(parts, fmt.Sprintf("request_resources (%s)", plural(constraintN, "bundle")))
	}
	if len(parts) == 0 {
		// Launched nodes always carry a reason; this only guards the text.
		parts = append(parts, "capacity")
	}
	return parts
}

// terminationSummary counts the group's terminations by cause.
func terminationSummary(terms []Termination, group string) string {
	var order []Cause
	n := map[Cause]int{}
	for _, t := range terms {
		if t.Group != group {
			continue
		}
		if n[t.Cause] == 0 {
			order = append(order, t.Cause)
		}
		n[t.Cause]++
	}
	if len(order) == 0 {
		return ""
	}
	parts := make([]string, len(order))
	for i, c := range order {
		parts[i] = fmt.Sprintf("%d %s", n[c], causeText[c])
	}
	return "terminate " + strings.Join(parts, ", ")
}

var causeText = map[Cause]string{
	CauseIdle:              "idle",
	CauseMaxPerType:        "above maxReplicas",
	CauseMaxNodes:          "above the cluster's worker cap",
	CauseOutdated:          "outdated",
	CauseRayStopped:        "with Ray stopped",
	CauseAllocationTimeout: "that never started Ray",
}

// plural counts what, a noun with a regular plural: "1 pod", "2 pods".
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
