package engine

import (
	"fmt"
	"strings"
)

// The scaler decides every second for every cluster, and any Ray user can
// make the demand arbitrarily large: thousands of distinct request shapes,
// placement groups or request_resources bundles. Ray's scheduler costs about
// nodes² × shapes on such input; the engine instead gives each round a fixed
// budget of bin-packing steps and, when the demand does not fit in it,
// decides on a prefix of it in Ray's own order (the requests Ray would place
// first) and says so in Plan.Truncated. The rest is neither placed nor
// reported infeasible; it is still pending next round, when what was placed
// has left the queue. The budget is counted in steps, never in time, so the
// same input always gives the same plan.

// roundBudget is the number of bin-packing steps (a request shape looked at
// on a node, a trial's score, a heap operation; see trialCost) one Decide
// call may spend on request_resources constraints, placement groups and
// pending demand: some 50 ms of one core on the benchmark machine
// (BENCHMARKS.md). States within it are decided exactly as Ray would.
const roundBudget = 1_600_000

// Shares of the budget: constraints and placement groups may each use a
// quarter; pending demand gets the rest, at least half. One placement group
// may use an eighth of the groups' share, so that one huge group cannot
// starve the others.
func (d *decider) constraintBudget() int { return d.budget / 4 }
func (d *decider) gangBudget() int       { return d.budget / 4 }
func (d *decider) gangBudgetEach() int   { return max(d.budget/32, 1) }
func (d *decider) demandBudget() int     { return max(d.budget-d.spent, d.budget/2) }

// over reports that the current trySchedule ran out of budget.
func (d *decider) over() bool { return d.limit > 0 && d.work > d.limit }

// schedulePrefix sorts runs into Ray's order (as far as it needs to) and
// runs trySchedule on the longest prefix it can decide on within allowance
// steps; it returns the prefix length with trySchedule's results and the
// steps spent.
//
// The prefixes tried are all runs, a quarter, a sixteenth and so on down to
// one. The first is the longest whose first trial of every candidate (a
// class of identical nodes, or a group's new node) fits in a quarter of the
// allowance. An attempt that runs out is retried on the next shorter prefix
// until one succeeds; a single run is always decided on, without a limit
// (its cost is bounded by the nodes and maxNewNodes, not by the demand). A
// success is followed by an attempt on the next longer prefix while four
// times its cost fits in what is left.
func (d *decider) schedulePrefix(runs []run, src source, allowance int) (k int, target []*snode, left []run, capped bool, used int) {
	d.work, d.limit = 0, 0
	d.pre = d.classes(src, needLabels(runs), countOf(runs))
	defer func() { d.pre = nil }()
	cands := len(d.pre) + len(d.c.Groups)
	used = d.work
	// The prefixes tried: all runs, a quarter, a sixteenth, ..., one.
	steps := []int{len(runs)}
	for n := len(runs); n > 1; {
		n = max(1, n/4)
		steps = append(steps, n)
	}
	i := 0
	for i < len(steps)-1 && mulSat(mulSat(steps[i], cands), trialCost) > allowance/4 {
		i++
	}
	order := newSorter(runs, steps[i])
	order.sortTo(steps[i])
	decided := -1
	for {
		k = steps[i]
		limit := max(allowance-used, 0)
		if decided < 0 {
			limit /= 2
		}
		if k <= 1 {
			limit = 0 // no limit
		}
		d.work, d.limit = 0, limit
		t, l, c, ok := d.trySchedule(runs[:k], src)
		cost := max(d.work, 1)
		used = addSat(used, d.work)
		d.work, d.limit = 0, 0
		switch {
		case ok:
			target, left, capped, decided = t, l, c, k
			if i == 0 || mulSat(cost, 4) > allowance-used {
				return k, target, left, capped, used
			}
			i--
			order.sortTo(steps[i])
		case decided >= 0:
			return decided, target, left, capped, used
		default:
			i++
		}
	}
}

// Truncation says which part of the demand a Decide call left for later
// rounds to stay within its budget. Of the pending shapes and of each
// request_resources constraint it decided on a prefix in Ray's scheduling
// order, and the plan is what Decide returns for a state holding only that
// prefix; placement groups that do not fit the budget are skipped in Ray's
// order, each all or nothing. Shapes naming an implicit resource beyond
// maxImplicitNames are never decided on.
type Truncation struct {
	// Shapes of ShapesTotal distinct pending request shapes were decided on;
	// Requests is the number of pending requests left out.
	Shapes, ShapesTotal, Requests int
	// Gangs of GangsTotal pending placement groups were decided on.
	Gangs, GangsTotal int
	// Bundles of BundlesTotal distinct request_resources bundle shapes were
	// decided on.
	Bundles, BundlesTotal int
	// Replicas is the number of requested replicas without a pod that were
	// kept as they are without being modelled as nodes (beyond maxPhantoms):
	// they take no demand this round.
	Replicas int
}

func (t Truncation) any() bool {
	return t.Shapes < t.ShapesTotal || t.Gangs < t.GangsTotal || t.Bundles < t.BundlesTotal || t.Replicas > 0
}

// String renders the truncation as in the DemandTruncated Event, e.g.
// "decided on 250 of 20000 pending request shapes (19750 requests left for
// later rounds): more demand than one scaling round considers".
func (t Truncation) String() string {
	var parts []string
	if t.Shapes < t.ShapesTotal {
		parts = append(parts, fmt.Sprintf("%d of %s (%s left for later rounds)",
			t.Shapes, plural(t.ShapesTotal, "pending request shape"), plural(t.Requests, "request")))
	}
	if t.Gangs < t.GangsTotal {
		parts = append(parts, fmt.Sprintf("%d of %s", t.Gangs, plural(t.GangsTotal, "placement group")))
	}
	if t.Bundles < t.BundlesTotal {
		parts = append(parts, fmt.Sprintf("%d of %s", t.Bundles, plural(t.BundlesTotal, "request_resources bundle shape")))
	}
	s := ""
	if len(parts) > 0 {
		s = "decided on " + strings.Join(parts, ", ") + ": more demand than one scaling round considers"
	}
	if t.Replicas > 0 {
		if s != "" {
			s += "; "
		}
		modelled := "kept as they are, not modelled as nodes"
		if t.Replicas == 1 {
			modelled = "kept as it is, not modelled as a node"
		}
		s += fmt.Sprintf("%s without a pod %s", plural(t.Replicas, "requested worker"), modelled)
	}
	return s
}
