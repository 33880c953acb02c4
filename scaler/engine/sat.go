package engine

import "math"

// Counts in the engine come from the RayCluster (int32 replicas and hosts),
// the GCS (int64 request counts) or a hand-built Cluster (any int). They are
// combined with saturating arithmetic: a wrapped-around product or sum could
// turn a bound into a small or negative number and let a cap pass.

// addSat returns a + b, clamped to the int range.
func addSat(a, b int) int {
	switch {
	case b > 0 && a > math.MaxInt-b:
		return math.MaxInt
	case b < 0 && a < math.MinInt-b:
		return math.MinInt
	}
	return a + b
}

// mulSat returns a × b for non-negative a and b, clamped to math.MaxInt.
// Negative operands count as zero.
func mulSat(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > math.MaxInt/b {
		return math.MaxInt
	}
	return a * b
}

// ceilDiv returns ⌈a / b⌉ for a ≥ 0 and b > 0 without overflowing.
func ceilDiv(a, b int) int {
	if a <= 0 {
		return 0
	}
	q := a / b
	if a%b != 0 {
		q++
	}
	return q
}
