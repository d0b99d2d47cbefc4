package bench

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the q-quantile (0 < q ≤ 1) of ds by the nearest-rank
// method: the smallest value with at least a fraction q of the values at
// or below it. It returns 0 for no values and does not modify ds.
func Percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(q*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Dist summarizes a set of durations.
type Dist struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize returns the distribution of ds.
func Summarize(ds []time.Duration) Dist {
	return Dist{N: len(ds), P50: Percentile(ds, 0.5), P99: Percentile(ds, 0.99), Max: Percentile(ds, 1)}
}
