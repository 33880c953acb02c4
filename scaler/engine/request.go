package engine

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
)

// origin says where a request comes from, for the decision text.
type origin uint8

const (
	fromDemand origin = iota
	fromGang
	fromConstraint
)

// creq is a request compiled against the universe.
type creq struct {
	items    []item
	sorted   []namedAmount // the bundle sorted by name: Ray's sort key and the display
	nkeys    int           // keys in the bundle, zero amounts included
	sum      float64
	gpuKey   bool // the bundle names GPU (even with 0): the node is "used for GPU work"
	selector []LabelSelector
	// anti is the anti-affinity label ("_PG_<id>"); a node may hold at most
	// one request with it and none if it already carries the label.
	anti        string
	constraints int // Ray's placement-constraint count (sort key)
	origin      origin
	gang        *Gang
	orig        Request
	key         string // canonical identity
	// never: the request names a resource no node and no group has, so it
	// fits nowhere. deferred: it names an implicit resource beyond
	// maxImplicitNames, so this round cannot place it.
	never, deferred bool
}

type namedAmount struct {
	name string
	v    float64
}

// run is n identical requests, consecutive in Ray's sorted order. Scheduling
// them as a block gives exactly Ray's request-by-request first fit, because
// every copy meets the same node state the previous one left.
type run struct {
	q *creq
	n int
}

// compile prepares r; negative and NaN amounts are dropped (Ray would crash on
// them), zero amounts are kept because they count in Ray's sort key.
func (u *universe) compile(r Request, o origin) *creq {
	q := &creq{}
	u.compileInto(q, r, o)
	return q
}

// compileInto is compile into q, which thousands of pending shapes allocate
// together.
func (u *universe) compileInto(q *creq, r Request, o origin) {
	*q = creq{orig: r, origin: o, selector: r.Selectors}
	q.sorted = make([]namedAmount, 0, len(r.Resources))
	for name, v := range r.Resources {
		if math.IsNaN(v) || v < 0 {
			continue
		}
		q.sorted = append(q.sorted, namedAmount{name, v})
		q.sum += v
		if name == "GPU" {
			q.gpuKey = true
		}
	}
	// Bundles have a few entries: an insertion sort beats a generic one.
	for i := 1; i < len(q.sorted); i++ {
		for j := i; j > 0 && q.sorted[j].name < q.sorted[j-1].name; j-- {
			q.sorted[j], q.sorted[j-1] = q.sorted[j-1], q.sorted[j]
		}
	}
	for _, a := range q.sorted {
		switch i, ok := u.lookup(a.name); {
		case ok:
			if q.items == nil {
				q.items = make([]item, 0, len(q.sorted))
			}
			q.items = append(q.items, item{i, a.v})
		case a.v == 0:
			// Fits anywhere and takes nothing, as in Ray.
		case strings.HasPrefix(a.name, ImplicitResourcePrefix):
			q.deferred = true
		default:
			q.never = true
		}
	}
	// Names and indices are numbered in the same order: items are sorted too.
	q.nkeys = len(q.sorted)
	q.key = requestKey(q.sorted, r.Selectors)
}

// requestKey is a canonical string for a bundle plus selectors: equal keys
// mean interchangeable requests. Every part is length-prefixed and amounts
// are their IEEE bits, so no two different requests share a key.
func requestKey(sorted []namedAmount, sel []LabelSelector) string {
	b := make([]byte, 0, 16*len(sorted)+8)
	for _, a := range sorted {
		b = appendString(b, a.name)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(a.v))
	}
	b = append(b, '|')
	return string(appendSelectors(b, sel))
}

func selectorKey(sel []LabelSelector) string {
	return string(appendSelectors(nil, sel))
}

func appendSelectors(b []byte, sel []LabelSelector) []byte {
	b = binary.AppendUvarint(b, uint64(len(sel)))
	for _, s := range sel {
		b = binary.AppendUvarint(b, uint64(len(s)))
		for _, c := range s {
			b = appendString(b, c.Key)
			b = binary.AppendVarint(b, int64(c.Op))
			b = binary.AppendUvarint(b, uint64(len(c.Values)))
			for _, v := range c.Values {
				b = appendString(b, v)
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// compareRay orders two requests the way Ray's _try_schedule sorts them,
// descending: placement constraints, constraints of the first label selector,
// number of resource keys, sum of amounts, then the sorted items. It returns
// a negative number when a comes first.
func compareRay(a, b *creq) int {
	if c := cmp.Compare(b.constraints, a.constraints); c != 0 {
		return c
	}
	if c := cmp.Compare(firstSelectorLen(b), firstSelectorLen(a)); c != 0 {
		return c
	}
	if c := cmp.Compare(b.nkeys, a.nkeys); c != 0 {
		return c
	}
	if c := cmp.Compare(b.sum, a.sum); c != 0 {
		return c
	}
	// Python compares the lists of (name, value) tuples lexicographically;
	// descending means the bigger list first.
	for i := 0; i < len(a.sorted) && i < len(b.sorted); i++ {
		if c := strings.Compare(b.sorted[i].name, a.sorted[i].name); c != 0 {
			return c
		}
		if c := cmp.Compare(b.sorted[i].v, a.sorted[i].v); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(b.sorted), len(a.sorted))
}

func firstSelectorLen(q *creq) int {
	if len(q.selector) == 0 {
		return 0
	}
	return len(q.selector[0])
}

// sortRuns sorts runs into Ray's order. The sort is stable, as Python's is, so
// the input order (bundle order for gangs) breaks ties.
func sortRuns(runs []run) {
	slices.SortStableFunc(runs, func(a, b run) int { return compareRay(a.q, b.q) })
}

// keyed is a run of distinct requests in Ray's order with the canonical key
// breaking ties, a total order that does not depend on the order the GCS
// listed the shapes in. The leading sort fields are copied in, so that
// ordering thousands of runs does not chase a pointer per comparison.
type keyed struct {
	run
	constraints, sel, nkeys int
	sum                     float64
}

func (a keyed) before(b keyed) bool {
	switch {
	case a.constraints != b.constraints:
		return a.constraints > b.constraints
	case a.sel != b.sel:
		return a.sel > b.sel
	case a.nkeys != b.nkeys:
		return a.nkeys > b.nkeys
	case a.sum != b.sum:
		return a.sum > b.sum
	}
	return cmp.Or(compareRay(a.q, b.q), strings.Compare(a.q.key, b.q.key)) < 0
}

func keyOf(r run) keyed {
	return keyed{r, r.q.constraints, firstSelectorLen(r.q), r.q.nkeys, r.q.sum}
}

// sorter hands out runs in that order: the first k sorted in place, the
// rest kept as a heap to take more from. Thousands of shapes of which a
// round decides on a few hundred cost a heap build, not a full sort.
type sorter struct {
	runs []run
	done int
	heap []keyed
}

func newSorter(runs []run, k int) *sorter {
	s := &sorter{runs: runs}
	if k >= len(runs) {
		// All of them: a plain sort.
		slices.SortFunc(runs, func(a, b run) int {
			if x, y := keyOf(a), keyOf(b); x.before(y) {
				return -1
			} else if y.before(x) {
				return 1
			}
			return 0
		})
		s.done = len(runs)
		return s
	}
	s.heap = make([]keyed, len(runs))
	for i, r := range runs {
		s.heap[i] = keyOf(r)
	}
	heapInit(s.heap)
	return s
}

// sortTo puts the first k runs of the order in place.
func (s *sorter) sortTo(k int) {
	for ; s.done < k && len(s.heap) > 0; s.done++ {
		s.runs[s.done] = heapPop(&s.heap).run
	}
	for i, r := range s.heap {
		s.runs[s.done+i] = r.run
	}
}

// mergeAdjacent joins neighbouring runs of identical requests, which Ray
// would schedule one after the other anyway.
func mergeAdjacent(runs []run) []run {
	out := runs[:0]
	for _, r := range runs {
		if n := len(out); n > 0 && out[n-1].q.key == r.q.key && out[n-1].q.anti == r.q.anti && out[n-1].q.constraints == r.q.constraints {
			out[n-1].n = addSat(out[n-1].n, r.n)
			continue
		}
		out = append(out, r)
	}
	return out
}

// selectorScore is Ray's label score of a node for one request: len(selectors)
// minus the index of the first selector the node satisfies, 0 when none is.
func selectorScore(sel []LabelSelector, l labelView) int {
	for i, s := range sel {
		if selectorMatches(s, l) {
			return len(sel) - i
		}
	}
	return 0
}

func selectorMatches(s LabelSelector, l labelView) bool {
	for _, c := range s {
		v, ok := l.get(c.Key)
		switch c.Op {
		case LabelIn:
			if !ok || !slices.Contains(c.Values, v) {
				return false
			}
		case LabelNotIn:
			if ok && slices.Contains(c.Values, v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// labelView is a node's labels plus the anti-affinity labels (value "")
// placed on it during this round.
type labelView struct {
	m     map[string]string
	extra []string
}

func (l labelView) get(k string) (string, bool) {
	if slices.Contains(l.extra, k) {
		return "", true
	}
	v, ok := l.m[k]
	return v, ok
}

// shapeString renders a bundle for humans: "{CPU: 1, GPU: 0.5}".
func shapeString(sorted []namedAmount) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, a := range sorted {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.name)
		b.WriteString(": ")
		b.WriteString(strconv.FormatFloat(a.v, 'g', -1, 64))
	}
	b.WriteByte('}')
	return b.String()
}
