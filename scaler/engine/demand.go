package engine

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
)

// shapeRuns compiles counted shapes into sorted runs. Identical shapes are
// merged and put in canonical order first, so the result does not depend on
// the order the GCS happened to list them in.
func (d *decider) shapeRuns(shapes []ShapeCount, o origin) []run {
	byKey := map[string]int{}
	var runs []run
	for _, s := range shapes {
		if s.Count <= 0 {
			continue
		}
		q := d.u.compile(s.Request, o)
		if i, ok := byKey[q.key]; ok {
			runs[i].n = addSat(runs[i].n, s.Count)
			continue
		}
		byKey[q.key] = len(runs)
		runs = append(runs, run{q, s.Count})
	}
	slices.SortFunc(runs, func(a, b run) int { return strings.Compare(a.q.key, b.q.key) })
	sortRuns(runs)
	return runs
}

// addSat adds two counts without wrapping around.
func addSat(a, b int) int {
	if a > math.MaxInt-b {
		return math.MaxInt
	}
	return a + b
}

// enforceConstraints is Ray's _enforce_resource_constraints: each
// request_resources constraint is packed against total resources (existing
// nodes, then new ones) and kept only if all of it fits.
func (d *decider) enforceConstraints() {
	for _, k := range d.s.Constraints {
		runs := d.shapeRuns(k.Bundles, fromConstraint)
		if len(runs) == 0 {
			continue
		}
		target, left, capped := d.trySchedule(runs, srcConstraint)
		switch {
		case len(left) == 0:
			d.nodes = target
		case !capped:
			d.infeasible.Constraints = append(d.infeasible.Constraints, k)
		}
	}
}

// scheduleGangs is Ray's _sched_gang_resource_requests: placement groups with
// more placement constraints and more bundles first, each placed all or
// nothing.
func (d *decider) scheduleGangs() {
	gangs := make([]*Gang, 0, len(d.s.Gangs))
	for i := range d.s.Gangs {
		if len(d.s.Gangs[i].Bundles) > 0 { // the GCS can report a gang with no bundles
			gangs = append(gangs, &d.s.Gangs[i])
		}
	}
	slices.SortStableFunc(gangs, func(a, b *Gang) int {
		return cmp.Or(cmp.Compare(gangConstraints(b), gangConstraints(a)), cmp.Compare(len(b.Bundles), len(a.Bundles)))
	})
	for i, g := range gangs {
		target, left, capped := d.trySchedule(d.gangRuns(g, i), srcDemand)
		switch {
		case len(left) == 0:
			d.nodes = target
		case !capped:
			d.infeasible.Gangs = append(d.infeasible.Gangs, *g)
		}
	}
}

// gangConstraints is the number of placement constraints of a gang's bundles:
// one per bundle for the strict strategies, none otherwise.
func gangConstraints(g *Gang) int {
	if g.Strategy == StrictPack || g.Strategy == StrictSpread {
		return len(g.Bundles)
	}
	return 0
}

// gangRuns turns a placement group into requests the way the GCS and Ray's
// combine_requests_with_affinity do: STRICT_PACK bundles with the same label
// selectors become one summed request (one node), STRICT_SPREAD bundles carry
// an anti-affinity to the group's "_PG_<id>" label (one per node, none on a
// node that already holds one), PACK and SPREAD bundles are independent.
func (d *decider) gangRuns(g *Gang, pos int) []run {
	var runs []run
	switch g.Strategy {
	case StrictPack:
		var order []string
		merged := map[string]Request{}
		for _, b := range g.Bundles {
			k := selectorKey(b.Selectors)
			m, ok := merged[k]
			if !ok {
				order = append(order, k)
				m = Request{Resources: map[string]float64{}, Selectors: b.Selectors}
			}
			for name, v := range b.Resources {
				m.Resources[name] += v
			}
			merged[k] = m
		}
		for _, k := range order {
			q := d.u.compile(merged[k], fromGang)
			q.constraints, q.gang = 1, g
			runs = append(runs, run{q, 1})
		}
	case StrictSpread:
		label := "_PG_" + g.ID
		if g.ID == "" {
			// Without an id the gang cannot be matched against existing
			// nodes, but its bundles must still spread among themselves.
			label = "_PG_#" + strconv.Itoa(pos)
		}
		for _, b := range g.Bundles {
			q := d.u.compile(b, fromGang)
			q.constraints, q.gang, q.anti = 1, g, label
			runs = append(runs, run{q, 1})
		}
	default:
		for _, b := range g.Bundles {
			q := d.u.compile(b, fromGang)
			q.gang = g
			runs = append(runs, run{q, 1})
		}
	}
	sortRuns(runs)
	return mergeAdjacent(runs)
}

// scheduleDemand is Ray's _sched_resource_requests: place as much pending
// demand as possible, keep partial placements, report the rest infeasible.
func (d *decider) scheduleDemand() {
	runs := d.shapeRuns(d.s.Pending, fromDemand)
	if len(runs) == 0 {
		return
	}
	target, left, capped := d.trySchedule(runs, srcDemand)
	d.nodes = target
	if capped {
		return
	}
	for _, r := range left {
		d.infeasible.Requests = append(d.infeasible.Requests, ShapeCount{Request: r.q.orig, Count: r.n})
	}
}
