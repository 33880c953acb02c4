package engine

import (
	"math"
	"slices"
	"strings"
)

// epsilon absorbs float rounding when requests are subtracted repeatedly
// (ten 0.1-CPU tasks must fit one CPU). Ray keeps resources in units of
// 1/10000, so anything smaller is noise.
const epsilon = 1e-9

// universe numbers the resource names of one Decide call that a request or a
// group can use, so that per-node resources are dense vectors: the bin
// packing touches them millions of times and map lookups would dominate.
// Names only nodes carry (Ray's node:<ip>, object_store_memory, placement
// group resources) are left out: nothing is placed on them, so their share
// of a node's score is fixed for the round (fixedTerms). The universe's size
// thus depends on the groups and on what requests name, not on the number
// of nodes.
type universe struct {
	index    map[string]int
	names    []string
	implicit []bool
	gpu      int // index of "GPU", -1 when no one mentions it
}

// newUniverse numbers the names in sorted order so that every float sum over a
// vector is done in the same order whatever the input order.
func newUniverse(names map[string]struct{}) *universe {
	u := &universe{index: make(map[string]int, len(names)), gpu: -1}
	u.names = make([]string, 0, len(names))
	for n := range names {
		u.names = append(u.names, n)
	}
	slices.Sort(u.names)
	u.implicit = make([]bool, len(u.names))
	for i, n := range u.names {
		u.index[n] = i
		u.implicit[i] = strings.HasPrefix(n, ImplicitResourcePrefix)
		if n == "GPU" {
			u.gpu = i
		}
	}
	return u
}

// lookup returns the index of name. A universe of a few names (the usual
// CPU, GPU, memory) is scanned, which beats hashing for each of the
// thousands of bundles and nodes a round reads.
func (u *universe) lookup(name string) (int, bool) {
	if len(u.names) <= 8 {
		for i, n := range u.names {
			if n == name {
				return i, true
			}
		}
		return 0, false
	}
	i, ok := u.index[name]
	return i, ok
}

// maxImplicitNames bounds the implicit resources requests may add to the
// universe (each is a dimension of every node's vectors). Ray uses them for
// per-node limits such as Serve's max_replicas_per_node, a handful per
// cluster; a request naming one beyond the bound is left for a later round.
const maxImplicitNames = 64

// resourceNames collects the universe of c and s: every group resource, and
// every resource a request names that some node or group has, plus up to
// maxImplicitNames implicit ones (a node that does not list one has 1.0 of
// it). A request naming anything else cannot be placed anywhere.
func resourceNames(c Cluster, s State) map[string]struct{} {
	names := map[string]struct{}{}
	for _, g := range c.Groups {
		for k := range g.Resources {
			names[k] = struct{}{}
		}
	}
	asked := map[string]struct{}{}
	add := func(m map[string]float64) {
		for k := range m {
			if _, ok := names[k]; !ok {
				asked[k] = struct{}{}
			}
		}
	}
	for _, p := range s.Pending {
		add(p.Resources)
	}
	for _, g := range s.Gangs {
		for _, b := range g.Bundles {
			add(b.Resources)
		}
	}
	for _, k := range s.Constraints {
		for _, b := range k.Bundles {
			add(b.Resources)
		}
	}
	// Which of the names requests ask for do nodes have?
	unknown := len(asked)
	for i := 0; i < len(s.Nodes) && unknown > 0; i++ {
		for _, m := range []map[string]float64{s.Nodes[i].Total, s.Nodes[i].Available} {
			for k := range m {
				if _, ok := asked[k]; ok {
					if _, done := names[k]; !done {
						names[k] = struct{}{}
						unknown--
					}
				}
			}
		}
	}
	var implicit []string
	for k := range asked {
		if _, ok := names[k]; !ok && strings.HasPrefix(k, ImplicitResourcePrefix) {
			implicit = append(implicit, k)
		}
	}
	slices.Sort(implicit)
	for _, k := range implicit[:min(len(implicit), maxImplicitNames)] {
		names[k] = struct{}{}
	}
	return names
}

// fixedTerms is the share of a node's resources outside the universe in its
// score (count, sum and minimum of total × util³ over the resources Ray
// scores) and in its utilization for the termination order.
type fixedTerms struct {
	cnt       int
	sum, min  float64
	utilCnt   int
	utilSum   float64
	consCount int // resources scored against totals (constraint slot): util 0
}

// vec is a resource vector; has records key presence because Ray treats a
// missing key differently from a zero (absent available means fully used in
// the score, absent implicit resources mean 1.0).
type vec struct {
	v   []float64
	has []bool
}

func (u *universe) vec(m map[string]float64) vec {
	x := vec{v: make([]float64, len(u.names)), has: make([]bool, len(u.names))}
	u.fill(x, m)
	return x
}

// fill sets x (zeroed) from m; names outside the universe are skipped.
func (u *universe) fill(x vec, m map[string]float64) {
	for k, val := range m {
		if i, ok := u.lookup(k); ok {
			x.v[i] = sanitize(val)
			x.has[i] = true
		}
	}
}

// fixed computes the fixed terms of a Ray node's resources outside the
// universe, in name order so that the float sums do not depend on map order.
func (u *universe) fixed(total, avail map[string]float64) fixedTerms {
	var out []string
	for k := range total {
		if _, ok := u.lookup(k); !ok {
			out = append(out, k)
		}
	}
	var f fixedTerms
	if len(out) == 0 {
		return f
	}
	slices.Sort(out)
	for _, k := range out {
		v := sanitize(total[k])
		a, has := avail[k]
		a = sanitize(a)
		if v > 0 {
			// Termination order: an absent available amount is fully used.
			f.utilSum += (v - a) / v
			f.utilCnt++
			f.consCount++
		}
		if v == 0 || !has {
			continue
		}
		util := min(max((v-a)/v, 0), 1)
		x := v * util * util * util
		if f.cnt == 0 || x < f.min {
			f.min = x
		}
		f.sum += x
		f.cnt++
	}
	return f
}

func (x vec) clone() vec {
	return vec{v: slices.Clone(x.v), has: slices.Clone(x.has)}
}

func (x *vec) copyFrom(y vec) {
	x.v = append(x.v[:0], y.v...)
	x.has = append(x.has[:0], y.has...)
}

// sanitize turns what a node could never have (NaN, infinities, negative
// amounts) into zero.
func sanitize(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0
	}
	return v
}

// item is one entry of a request: resource index and amount.
type item struct {
	i int
	v float64
}

// fitCount returns how many copies (at most n) of the request items fit into
// x, treating absent implicit resources as 1.0, like Ray's _fits applied
// repeatedly.
func (u *universe) fitCount(x vec, items []item, n int) int {
	for _, it := range items {
		if it.v == 0 {
			continue
		}
		a := x.v[it.i]
		if !x.has[it.i] {
			a = 0
			if u.implicit[it.i] {
				a = 1
			}
		}
		if it.v > a+epsilon {
			return 0
		}
		if k := math.Floor((a + epsilon) / it.v); k < float64(n) {
			n = int(k)
		}
	}
	return n
}

// subtract takes k copies of the items out of x (Ray's _inplace_subtract,
// which materialises an absent implicit resource at 1.0 first).
func (u *universe) subtract(x vec, items []item, k int) {
	for _, it := range items {
		if it.v == 0 {
			continue
		}
		if !x.has[it.i] {
			x.has[it.i] = true
			x.v[it.i] = 0
			if u.implicit[it.i] {
				x.v[it.i] = 1
			}
		}
		x.v[it.i] = max(x.v[it.i]-float64(k)*it.v, 0)
	}
}
