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

// universe numbers every resource name seen in one Decide call, so that
// per-node resources are dense vectors: the bin packing touches them millions
// of times and map lookups would dominate.
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

// fill sets x (zeroed) from m.
func (u *universe) fill(x vec, m map[string]float64) {
	for k, val := range m {
		i := u.index[k]
		x.v[i] = sanitize(val)
		x.has[i] = true
	}
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
