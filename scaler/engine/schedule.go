package engine

import (
	"cmp"
	"math"
	"slices"
)

// maxNewNodes bounds the workers one Decide call plans, so that absurd demand
// (a billion pending tasks on an unbounded group) costs bounded time. Far more
// than the launch rate limit lets through in one round anyway; demand beyond
// it is neither placed nor reported infeasible, it waits for the next round.
const maxNewNodes = 10000

// Costs of the bin-packing steps in budget units (see roundBudget), one unit
// being a request shape looked at on a node: a trial copies a node's vectors
// and scores it, a heap operation compares a few scores.
const (
	trialCost = 24
	heapCost  = 6
	classCost = 4  // a node's class looked up
	keyCost   = 40 // a node's class key computed (once per node and source)
)

// took is one trial placement: count requests of run r.
type took struct{ r, n int }

// batch is what one trySchedule places: the runs in Ray's order, how many
// requests of each are left, and a linked list of the runs with requests left
// so that packing a node skips the exhausted ones.
type batch struct {
	runs       []run
	counts     []int
	next, prev []int // neighbours in the list; len(runs) ends it, -1 starts it
	first      int
	remaining  int
	// floor[r*len(dims)+j] is the least amount of resource dims[j] that any
	// run from r on asks for (+Inf past the end), so that packing a node
	// stops as soon as none of the rest can fit: a node fits a few shapes of
	// thousands. Exhausted runs keep their amounts, which only makes the
	// floor lower, never wrong.
	dims  []int
	floor []float64
}

// Floors are kept for the resources most runs ask for, and only for batches
// long enough to need them.
const (
	floorDims    = 4
	floorMinRuns = 16
)

func (u *universe) newBatch(runs []run) *batch {
	b := newBatch(runs)
	if len(runs) < floorMinRuns {
		return b
	}
	freq := map[int]int{}
	for _, r := range runs {
		for _, it := range r.q.items {
			if it.v > 0 {
				freq[it.i]++
			}
		}
	}
	for i := range freq {
		b.dims = append(b.dims, i)
	}
	slices.SortFunc(b.dims, func(x, y int) int { return cmp.Or(cmp.Compare(freq[y], freq[x]), cmp.Compare(x, y)) })
	b.dims = b.dims[:min(len(b.dims), floorDims)]
	nd := len(b.dims)
	b.floor = make([]float64, (len(runs)+1)*nd)
	for j := range nd {
		b.floor[len(runs)*nd+j] = math.Inf(1)
	}
	for r := len(runs) - 1; r >= 0; r-- {
		q := runs[r].q
		for j, dim := range b.dims {
			need := 0.0
			switch {
			case q.never || q.deferred:
				need = math.Inf(1)
			default:
				for _, it := range q.items {
					if it.i == dim {
						need = it.v
					}
				}
			}
			b.floor[r*nd+j] = min(need, b.floor[(r+1)*nd+j])
		}
	}
	return b
}

// full reports that no run from r on fits into x.
func (b *batch) full(u *universe, r int, x vec) bool {
	nd := len(b.dims)
	if nd == 0 || r >= len(b.runs) {
		return r >= len(b.runs)
	}
	for j, i := range b.dims {
		a := x.v[i]
		if !x.has[i] {
			a = 0
			if u.implicit[i] {
				a = 1
			}
		}
		if b.floor[r*nd+j] > a+epsilon {
			return true
		}
	}
	return false
}

func newBatch(runs []run) *batch {
	n := len(runs)
	b := &batch{runs: runs, counts: make([]int, n), next: make([]int, n), prev: make([]int, n), first: n}
	last := -1
	for i, r := range runs {
		b.counts[i] = max(r.n, 0)
		if b.counts[i] == 0 {
			continue
		}
		b.remaining = addSat(b.remaining, r.n)
		if last < 0 {
			b.first = i
		} else {
			b.next[last] = i
		}
		b.prev[i] = last
		last = i
	}
	if last >= 0 {
		b.next[last] = n
	}
	return b
}

// take removes n requests of run r.
func (b *batch) take(r, n int) {
	b.counts[r] -= n
	b.remaining -= n
	if b.counts[r] > 0 {
		return
	}
	p, nx := b.prev[r], b.next[r]
	if p < 0 {
		b.first = nx
	} else {
		b.next[p] = nx
	}
	if nx < len(b.runs) {
		b.prev[nx] = p
	}
}

// cand is a candidate node of a bin-packing phase with its cached trial.
type cand struct {
	n     *snode
	took  []took
	sc    score
	ver   int  // bumped by every trial, to recognise stale index entries
	valid bool // took and sc are current
	dead  bool // took nothing (stays so: requests only go away) or picked
}

// pack places the batch onto slot sl of node n, first fit in Ray's order with
// no backtracking (SchedulingNode.try_schedule), and appends what it took to
// tk. extra receives the anti-affinity labels it adds.
func (d *decider) pack(n *snode, sl *slot, extra *[]string, b *batch, tk []took) []took {
	if b.full(d.u, b.first, sl.avail) {
		return tk
	}
	for r := b.first; r < len(b.runs); r = b.next[r] {
		d.work++
		c := b.counts[r]
		q := b.runs[r].q
		if q.never || q.deferred {
			continue
		}
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
		sl.placed = addSat(sl.placed, k)
		if q.anti != "" {
			*extra = append(*extra, q.anti)
		}
		tk = append(tk, took{r, k})
		if b.full(d.u, b.next[r], sl.avail) {
			break
		}
	}
	return tk
}

// trial packs the batch onto a scratch copy of c's node and caches the
// result.
func (d *decider) trial(c *cand, b *batch, src source) {
	n := c.n
	d.work += trialCost + len(n.totalIdx)
	d.scratch.avail.copyFrom(n.slots[src].avail)
	d.scratch.types = append(d.scratch.types[:0], n.slots[src].types...)
	d.scratch.ntypes, d.scratch.anyGPU, d.scratch.label, d.scratch.placed = n.slots[src].ntypes, n.slots[src].anyGPU, n.slots[src].label, n.slots[src].placed
	d.scratchExtra = append(d.scratchExtra[:0], n.extra...)
	c.ver++
	c.took = d.pack(n, &d.scratch, &d.scratchExtra, b, c.took[:0])
	if len(c.took) == 0 {
		c.dead, c.valid = true, false
		return
	}
	c.sc = d.score(n, &d.scratch, src)
	c.valid = true
}

// bestOf is Ray's _sched_best_node over a small list (the new-node pool): the
// candidate whose trial scores highest, the earliest one on ties (Python's
// stable sort), or -1 if none takes anything.
func (d *decider) bestOf(cands []cand, b *batch, src source) int {
	bi := -1
	for i := range cands {
		d.work++
		c := &cands[i]
		if c.dead {
			continue
		}
		if !c.valid {
			if d.trial(c, b, src); c.dead {
				continue
			}
		}
		if bi < 0 || compareScore(c.sc, cands[bi].sc) > 0 {
			bi = i
		}
	}
	return bi
}

// commitTrial places the batch on n for real and takes what it placed out of
// the batch; d.tk holds what was taken.
func (d *decider) commitTrial(n *snode, b *batch, src source) {
	d.tk = d.pack(n, &n.slots[src], &n.extra, b, d.tk[:0])
	for _, t := range d.tk {
		b.take(t.r, t.n)
		if n.kind == kindNew {
			n.placed = append(n.placed, placement{b.runs[t.r].q, t.n})
		}
	}
}

// invalidate drops cached trials that relied on requests now taken: a trial
// stays exact as long as it took no more of each run than remains, because
// then the node meets the same requests in the same state.
func (d *decider) invalidate(cands []cand, counts []int) {
	for i := range cands {
		c := &cands[i]
		if !c.valid {
			continue
		}
		for _, t := range c.took {
			d.work++
			if t.n > counts[t.r] {
				c.valid = false
				break
			}
		}
	}
}

// class is a set of phase-A candidates in the same state (classKey): one
// trial serves them all. Ray picks the earliest of equally good nodes, so a
// class stands for its earliest member not picked yet.
type class struct {
	cand
	members []int // positions in the context list, ascending
	next    int   // members[next] is the class's representative
}

func (c *class) rep() int { return c.members[c.next] }

// classHeap orders the classes with a valid trial: best score first, the
// earliest representative on ties, which is the node Ray's stable sort
// picks. A class appears at most once; a new trial or a new representative
// moves it.
type classHeap struct {
	cls  []class
	heap []int // class indices
	pos  []int // position of each class in heap, -1 when absent
}

func (h *classHeap) less(a, b int) bool {
	if c := compareScore(h.cls[a].sc, h.cls[b].sc); c != 0 {
		return c > 0
	}
	return h.cls[a].rep() < h.cls[b].rep()
}

func (h *classHeap) swap(x, y int) {
	h.heap[x], h.heap[y] = h.heap[y], h.heap[x]
	h.pos[h.heap[x]], h.pos[h.heap[y]] = x, y
}

func (h *classHeap) up(x int) {
	for x > 0 {
		p := (x - 1) / 2
		if !h.less(h.heap[x], h.heap[p]) {
			return
		}
		h.swap(x, p)
		x = p
	}
}

func (h *classHeap) down(x int) {
	for {
		l, m := 2*x+1, x
		if l < len(h.heap) && h.less(h.heap[l], h.heap[m]) {
			m = l
		}
		if r := l + 1; r < len(h.heap) && h.less(h.heap[r], h.heap[m]) {
			m = r
		}
		if m == x {
			return
		}
		h.swap(x, m)
		x = m
	}
}

// fix puts class i where its (new) score and representative belong.
func (h *classHeap) fix(i int) {
	if h.pos[i] < 0 {
		h.pos[i] = len(h.heap)
		h.heap = append(h.heap, i)
		h.up(h.pos[i])
		return
	}
	h.up(h.pos[i])
	h.down(h.pos[i])
}

// remove takes class i out.
func (h *classHeap) remove(i int) {
	x := h.pos[i]
	if x < 0 {
		return
	}
	last := len(h.heap) - 1
	h.swap(x, last)
	h.heap = h.heap[:last]
	h.pos[i] = -1
	if x < last {
		h.up(x)
		h.down(x)
	}
}

// Nodes are grouped into classes from minClassNodes nodes and more than
// minClassRequests requests on: a placement needs at least one request, so
// with a few requests (a placement group's bundles) grouping costs more than
// the trials it saves.
const (
	minClassNodes    = 32
	minClassRequests = 16
)

// countOf is the number of requests of runs, saturating.
func countOf(runs []run) int {
	n := 0
	for _, r := range runs {
		n = addSat(n, r.n)
	}
	return n
}

// needLabels reports whether any run has a label selector or an
// anti-affinity, so that nodes differing only in labels differ in trials.
func needLabels(runs []run) bool {
	for _, r := range runs {
		if len(r.q.selector) > 0 || r.q.anti != "" {
			return true
		}
	}
	return false
}

// classes groups the context's nodes that are not being terminated into
// classes, in order of their first member.
func (d *decider) classes(src source, labels bool, requests int) []class {
	d.work += classCost * len(d.nodes)
	var cls []class
	if len(d.nodes) <= minClassNodes || requests <= minClassRequests {
		// A few nodes: one class each, no keys to build.
		pos := make([]int, len(d.nodes))
		cls = make([]class, 0, len(d.nodes))
		for i, n := range d.nodes {
			if pos[i] = i; n.status != toTerminate {
				cls = append(cls, class{cand: cand{n: n}, members: pos[i : i+1 : i+1]})
			}
		}
		return cls
	}
	byKey := make(map[string]int, len(d.nodes))
	for i, n := range d.nodes {
		if n.status == toTerminate {
			continue
		}
		if n.keys[src] == "" || labels && n.labelKey == "" {
			d.work += keyCost
		}
		k := n.classKey(src, labels)
		ci, ok := byKey[k]
		if !ok {
			ci = len(cls)
			byKey[k] = ci
			cls = append(cls, class{cand: cand{n: n}})
		}
		cls[ci].members = append(cls[ci].members, i)
	}
	return cls
}

// taker records that class i's trial (version ver) took n requests of a
// run; the largest n comes first, so that when the run shrinks the trials it
// invalidates are found without looking at the others.
type taker struct{ n, i, ver int }

func (a taker) before(b taker) bool { return a.n > b.n }

// trySchedule is Ray's _try_schedule: pack the requests onto existing nodes
// (best node first, repeatedly), then onto new nodes of the groups with quota
// left. It does not touch the context; it returns the node list the context
// would become, the requests left over, and whether maxNewNodes stopped it.
// ok is false when the work budget (d.limit) ran out first; the other results
// are then meaningless.
//
// Existing nodes are many: nodes in the same state share one trial (class),
// the best class is kept in a heap, and each run knows which cached trials
// took from it, so a placement costs the trials it invalidates, not a scan
// of every node.
func (d *decider) trySchedule(runs []run, src source) (target []*snode, left []run, capped, ok bool) {
	b := d.u.newBatch(runs)
	target = make([]*snode, 0, len(d.nodes))

	// Phase A: existing nodes. Nodes already marked for termination are not
	// candidates (Ray would still pack onto them and then remove them).
	var cls []class
	if d.pre != nil {
		// schedulePrefix grouped the same context already; the members are
		// shared, the trials are this attempt's own.
		cls = slices.Clone(d.pre)
	} else {
		cls = d.classes(src, needLabels(runs), countOf(runs))
	}
	picked := make([]bool, len(d.nodes))
	h := &classHeap{cls: cls, heap: make([]int, 0, len(cls)), pos: make([]int, len(cls))}
	for i := range h.pos {
		h.pos[i] = -1
	}
	takers := make([][]taker, len(runs))
	dirty := make([]int, len(cls))
	for i := range dirty {
		dirty[i] = i
	}
	for b.remaining > 0 {
		for _, i := range dirty {
			c := &cls[i]
			if d.trial(&c.cand, b, src); d.over() {
				return nil, nil, false, false
			}
			if c.dead {
				h.remove(i)
				continue
			}
			h.fix(i)
			for _, t := range c.took {
				heapPush(&takers[t.r], taker{t.n, i, c.ver})
			}
			d.work += heapCost * (1 + len(c.took))
		}
		dirty = dirty[:0]
		if len(h.heap) == 0 {
			break
		}
		ci := h.heap[0]
		c := &cls[ci]
		pos := c.rep()
		if c.next++; c.next == len(c.members) {
			c.dead, c.valid = true, false
			h.remove(ci)
		} else {
			h.fix(ci)
		}
		d.work += heapCost
		n := d.nodes[pos].clone()
		d.commitTrial(n, b, src)
		target = append(target, n)
		picked[pos] = true
		for _, t := range d.tk {
			th := &takers[t.r]
			for len(*th) > 0 && (*th)[0].n > b.counts[t.r] {
				e := heapPop(th)
				d.work += heapCost
				if c := &cls[e.i]; c.valid && c.ver == e.ver {
					c.valid = false
					dirty = append(dirty, e.i)
				}
			}
		}
	}
	for i, n := range d.nodes {
		if !picked[i] {
			target = append(target, n)
		}
	}

	// Phase B: new nodes, one candidate per group with quota; a picked group
	// goes back to the end of the pool, as in Ray.
	quota := d.quota()
	workers, planned := d.heldTotal(), 0
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
			pool = append(pool, cand{n: d.fresh(g, kindNew)})
		}
	}
	for b.remaining > 0 && len(pool) > 0 {
		if d.c.MaxWorkers > 0 && workers >= d.c.MaxWorkers {
			break
		}
		if planned >= maxNewNodes {
			capped = true
			break
		}
		bi := d.bestOf(pool, b, src)
		if d.over() {
			return nil, nil, false, false
		}
		if bi < 0 {
			break
		}
		n := pool[bi].n
		d.commitTrial(n, b, src)
		target = append(target, n)
		workers++
		planned++
		pool = append(pool[:bi], pool[bi+1:]...)
		if quota[n.group]--; quota[n.group] > 0 {
			pool = append(pool, cand{n: d.fresh(n.group, kindNew)})
		}
		d.invalidate(pool, b.counts)
	}

	for i, r := range runs {
		if b.counts[i] > 0 {
			left = append(left, run{r.q, b.counts[i]})
		}
	}
	return target, left, capped, true
}

// quota is Ray's node_type_available: the group's max workers minus every
// node of the group in the context (those being terminated included) and, to
// never ask for more pods than maxReplicas, minus the pods that hold a
// replica without being a scheduling node (draining, unknown Ray status) and
// the replicas not modelled as nodes.
func (d *decider) quota() []int {
	q := make([]int, len(d.c.Groups))
	for g, grp := range d.c.Groups {
		q[g] = addSat(grp.MaxWorkers(), -addSat(d.held[g], d.extra[g]))
	}
	for _, n := range d.nodes {
		if n.group >= 0 {
			q[n.group]--
		}
	}
	return q
}

// heldTotal counts the workers that are not scheduling nodes: pods held as
// they are (draining, unknown Ray status) and replicas not modelled as nodes.
func (d *decider) heldTotal() int {
	t := 0
	for g := range d.held {
		t = addSat(t, addSat(d.held[g], d.extra[g]))
	}
	return t
}

// heapItem is what the binary heaps below order.
type heapItem[T any] interface{ before(T) bool }

func heapPush[T heapItem[T]](h *[]T, x T) {
	*h = append(*h, x)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s[i].before(s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func heapPop[T heapItem[T]](h *[]T) T {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	siftDown(s, 0)
	*h = s
	return top
}

func heapInit[T heapItem[T]](s []T) {
	for i := len(s)/2 - 1; i >= 0; i-- {
		siftDown(s, i)
	}
}

func siftDown[T heapItem[T]](s []T, i int) {
	for {
		l, m := 2*i+1, i
		if l < len(s) && s[l].before(s[m]) {
			m = l
		}
		if r := l + 1; r < len(s) && s[r].before(s[m]) {
			m = r
		}
		if m == i {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}
