package engine

// maxNewNodes bounds the workers one Decide call plans, so that absurd demand
// (a billion pending tasks on an unbounded group) costs bounded time. Far more
// than the launch rate limit lets through in one round anyway; demand beyond
// it is neither placed nor reported infeasible, it waits for the next round.
const maxNewNodes = 10000

// took is one trial placement: count requests of run r.
type took struct{ r, n int }

// cand is a candidate node of a bin-packing phase with its cached trial.
type cand struct {
	n     *snode
	pos   int // position in the context list (existing nodes), -1 for new ones
	took  []took
	sc    score
	valid bool // took and sc are current
	dead  bool // took nothing; stays so because requests only go away
}

// pack places the runs onto slot sl of node n, first fit in Ray's order with
// no backtracking (SchedulingNode.try_schedule), and appends what it took to
// tk. extra receives the anti-affinity labels it adds.
func (d *decider) pack(n *snode, sl *slot, extra *[]string, runs []run, counts []int, tk []took) []took {
	for r, rn := range runs {
		c := counts[r]
		if c == 0 {
			continue
		}
		q := rn.q
		lv := labelView{m: n.labels, extra: *extra}
		ls := 0
		if len(q.selector) > 0 {
			if ls = selectorScore(q.selector, lv); ls == 0 {
				continue
			}
		}
		if q.anti != "" {
			if _, has := lv.get(q.anti); has {
				continue
			}
			c = 1
		}
		k := d.u.fitCount(sl.avail, q.items, c)
		if k == 0 {
			continue
		}
		d.u.subtract(sl.avail, q.items, k)
		for _, it := range q.items {
			if it.v > 0 && !sl.types[it.i] {
				sl.types[it.i] = true
				if n.total.has[it.i] {
					sl.ntypes++
				}
			}
		}
		sl.anyGPU = sl.anyGPU || q.gpuKey
		if sl.label == 0 {
			sl.label = ls
		}
		sl.placed += k
		if q.anti != "" {
			*extra = append(*extra, q.anti)
		}
		tk = append(tk, took{r, k})
	}
	return tk
}

// trial packs the runs onto a scratch copy of c's node and caches the result.
func (d *decider) trial(c *cand, runs []run, counts []int, src source) {
	n := c.n
	d.scratch.avail.copyFrom(n.slots[src].avail)
	d.scratch.types = append(d.scratch.types[:0], n.slots[src].types...)
	d.scratch.ntypes, d.scratch.anyGPU, d.scratch.label, d.scratch.placed = n.slots[src].ntypes, n.slots[src].anyGPU, n.slots[src].label, n.slots[src].placed
	d.scratchExtra = append(d.scratchExtra[:0], n.extra...)
	c.took = d.pack(n, &d.scratch, &d.scratchExtra, runs, counts, c.took[:0])
	if len(c.took) == 0 {
		c.dead = true
		return
	}
	c.sc = d.score(n, &d.scratch)
	c.valid = true
}

// best is Ray's _sched_best_node: the candidate whose trial scores highest,
// the earliest one on ties (Python's stable sort), or -1 if none takes
// anything.
func (d *decider) best(cands []cand, runs []run, counts []int, src source) int {
	bi := -1
	for i := range cands {
		c := &cands[i]
		if c.dead {
			continue
		}
		if !c.valid {
			if d.trial(c, runs, counts, src); c.dead {
				continue
			}
		}
		if bi < 0 || compareScore(c.sc, cands[bi].sc) > 0 {
			bi = i
		}
	}
	return bi
}

// commitTrial places the runs on n for real and updates the counts. It
// returns how many requests were placed.
func (d *decider) commitTrial(n *snode, runs []run, counts []int, src source) int {
	d.tk = d.pack(n, &n.slots[src], &n.extra, runs, counts, d.tk[:0])
	placed := 0
	for _, t := range d.tk {
		counts[t.r] -= t.n
		placed += t.n
		if n.kind == kindNew {
			n.placed = append(n.placed, placement{runs[t.r].q, t.n})
		}
	}
	return placed
}

// invalidate drops cached trials that relied on requests now taken: a trial
// stays exact as long as it took no more of each run than remains, because
// then the node meets the same requests in the same state.
func invalidate(cands []cand, counts []int) {
	for i := range cands {
		c := &cands[i]
		if !c.valid {
			continue
		}
		for _, t := range c.took {
			if t.n > counts[t.r] {
				c.valid = false
				break
			}
		}
	}
}

// trySchedule is Ray's _try_schedule: pack the requests onto existing nodes
// (best node first, repeatedly), then onto new nodes of the groups with quota
// left. It does not touch the context; it returns the node list the context
// would become, the requests left over, and whether maxNewNodes stopped it.
func (d *decider) trySchedule(runs []run, src source) (target []*snode, left []run, capped bool) {
	counts := make([]int, len(runs))
	remaining := 0
	for i, r := range runs {
		counts[i] = r.n
		remaining += r.n
	}
	target = make([]*snode, 0, len(d.nodes))

	// Phase A: existing nodes. Nodes already marked for termination are not
	// candidates (Ray would still pack onto them and then remove them).
	cands := make([]cand, 0, len(d.nodes))
	for i, n := range d.nodes {
		if n.status != toTerminate {
			cands = append(cands, cand{n: n, pos: i})
		}
	}
	picked := make([]bool, len(d.nodes))
	for remaining > 0 {
		bi := d.best(cands, runs, counts, src)
		if bi < 0 {
			break
		}
		c := &cands[bi]
		n := c.n.clone()
		remaining -= d.commitTrial(n, runs, counts, src)
		target = append(target, n)
		picked[c.pos] = true
		c.dead = true
		invalidate(cands, counts)
	}
	for i, n := range d.nodes {
		if !picked[i] {
			target = append(target, n)
		}
	}

	// Phase B: new nodes, one candidate per group with quota; a picked group
	// goes back to the end of the pool, as in Ray.
	quota := d.quota()
	workers, planned := d.drainingTotal(), 0
	for _, n := range target {
		if !n.head {
			workers++
		}
		if n.kind == kindNew {
			planned++
		}
	}
	var pool []cand
	for g, q := range quota {
		if q > 0 {
			pool = append(pool, cand{n: d.fresh(g, kindNew), pos: -1})
		}
	}
	for remaining > 0 && len(pool) > 0 {
		if d.c.MaxWorkers > 0 && workers >= d.c.MaxWorkers {
			break
		}
		if planned >= maxNewNodes {
			capped = true
			break
		}
		bi := d.best(pool, runs, counts, src)
		if bi < 0 {
			break
		}
		n := pool[bi].n
		remaining -= d.commitTrial(n, runs, counts, src)
		target = append(target, n)
		workers++
		planned++
		pool = append(pool[:bi], pool[bi+1:]...)
		if quota[n.group]--; quota[n.group] > 0 {
			pool = append(pool, cand{n: d.fresh(n.group, kindNew), pos: -1})
		}
		invalidate(pool, counts)
	}

	for i, r := range runs {
		if counts[i] > 0 {
			left = append(left, run{r.q, counts[i]})
		}
	}
	return target, left, capped
}

// quota is Ray's node_type_available: the group's max workers minus every
// node of the group in the context (those being terminated included) and, to
// never ask for more pods than maxReplicas, minus the draining pods that still
// hold a replica.
func (d *decider) quota() []int {
	q := make([]int, len(d.c.Groups))
	for g, grp := range d.c.Groups {
		q[g] = grp.MaxWorkers() - d.draining[g]
	}
	for _, n := range d.nodes {
		if n.group >= 0 {
			q[n.group]--
		}
	}
	return q
}

func (d *decider) drainingTotal() int {
	t := 0
	for _, n := range d.draining {
		t += n
	}
	return t
}
