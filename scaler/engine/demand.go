package engine

import (
	"cmp"
	"slices"
	"strconv"
)

// shapeRuns compiles counted shapes into runs, identical shapes merged.
// They are not sorted yet (schedulePrefix sorts the part it decides on);
// runs this round cannot place (an implicit resource beyond
// maxImplicitNames) come last, deferred of them.
func (d *decider) shapeRuns(shapes []ShapeCount, o origin) (runs []run, deferred int) {
	byKey := make(map[string]int, len(shapes))
	qs := make([]creq, len(shapes))
	for i, s := range shapes {
		if s.Count <= 0 {
			continue
		}
		q := &qs[i]
		d.u.compileInto(q, s.Request, o)
		if i, ok := byKey[q.key]; ok {
			runs[i].n = addSat(runs[i].n, s.Count)
			continue
		}
		byKey[q.key] = len(runs)
		runs = append(runs, run{q, s.Count})
	}
	kept := make([]run, 0, len(runs))
	var later []run
	for _, r := range runs {
		if r.q.deferred {
			later = append(later, r)
		} else {
			kept = append(kept, r)
		}
	}
	return append(kept, later...), len(later)
}

// enforceConstraints is Ray's _enforce_resource_constraints: each
// request_resources constraint is packed against total resources (existing
// nodes, then new ones) and kept only if all of it fits. A constraint with
// more bundle shapes than the budget allows is decided on a prefix of them:
// if the prefix fits, the cluster is kept at least that large; if it does
// not, neither does the whole.
func (d *decider) enforceConstraints() {
	used := 0
	for _, k := range d.s.Constraints {
		runs, deferred := d.shapeRuns(k.Bundles, fromConstraint)
		d.truncated.BundlesTotal += len(runs)
		runs = runs[:len(runs)-deferred]
		if len(runs) == 0 {
			continue
		}
		n, target, left, capped, spent := d.schedulePrefix(runs, srcConstraint, d.constraintBudget()-used)
		used = addSat(used, spent)
		d.spent = addSat(d.spent, spent)
		d.truncated.Bundles += n
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
// nothing. A placement group that does not fit in its share of the budget,
// and every one after the share is spent, waits for a later round.
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
	d.truncated.GangsTotal = len(gangs)
	used := 0
	for i, g := range gangs {
		runs, deferred := d.gangRuns(g, i)
		if deferred || used >= d.gangBudget() {
			continue
		}
		d.work, d.limit = 0, max(1, min(d.gangBudgetEach(), d.gangBudget()-used))
		target, left, capped, ok := d.trySchedule(runs, srcDemand)
		used = addSat(used, d.work)
		d.spent = addSat(d.spent, d.work)
		d.work, d.limit = 0, 0
		if !ok {
			continue
		}
		d.truncated.Gangs++
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
func (d *decider) gangRuns(g *Gang, pos int) (runs []run, deferred bool) {
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
	for _, r := range runs {
		deferred = deferred || r.q.deferred
	}
	return mergeAdjacent(runs), deferred
}

// scheduleDemand is Ray's _sched_resource_requests: place as much pending
// demand as possible, keep partial placements, report the rest infeasible.
// Demand beyond what the budget decides on (see schedulePrefix) is neither
// placed nor reported.
func (d *decider) scheduleDemand() {
	all, deferred := d.shapeRuns(d.s.Pending, fromDemand)
	runs := all[:len(all)-deferred]
	n, target, left, capped := 0, d.nodes, []run(nil), false
	if len(runs) > 0 {
		n, target, left, capped, _ = d.schedulePrefix(runs, srcDemand, d.demandBudget())
	}
	d.truncated.Shapes, d.truncated.ShapesTotal = n, len(all)
	for _, r := range all[n:] {
		d.truncated.Requests = addSat(d.truncated.Requests, r.n)
	}
	d.nodes = target
	if capped {
		return
	}
	for _, r := range left {
		d.infeasible.Requests = append(d.infeasible.Requests, ShapeCount{Request: r.q.orig, Count: r.n})
	}
}
