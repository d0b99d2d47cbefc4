// Package quantile computes nearest-rank percentiles, the one definition
// every latency figure of the service uses: with n values sorted ascending,
// the p-th percentile is the value at rank ceil(p·n/100), counting from 1.
package quantile

import (
	"cmp"
	"math"
	"slices"
)

// Sorted returns the p-th percentile (0 < p ≤ 100) of sorted, which must be
// ascending. It returns the zero value when sorted is empty. p outside
// (0, 100] is clamped to the smallest or largest value.
func Sorted[T cmp.Ordered](sorted []T, p float64) T {
	var zero T
	if len(sorted) == 0 {
		return zero
	}
	return sorted[Rank(len(sorted), p)-1]
}

// Of returns the p-th percentile of values in any order, without modifying
// values; the zero value when there are none.
func Of[T cmp.Ordered](values []T, p float64) T {
	s := slices.Clone(values)
	slices.Sort(s)
	return Sorted(s, p)
}

// Rank returns the 1-based nearest rank ceil(p·n/100) of the p-th
// percentile among n > 0 values, clamped to [1, n]. Whole-number products
// are exact, so the 90th percentile of 10 values is rank 9, not 10.
func Rank(n int, p float64) int {
	x := p * float64(n) / 100
	r := int(math.Ceil(x))
	// Remove floating-point noise above an exact integer (e.g. 9.000000000000002).
	if f := math.Floor(x); x-f < 1e-9 {
		r = int(f)
	}
	return min(max(r, 1), n)
}
