package bench

import (
	"slices"
	"time"

	"github.com/councilhq/council/internal/quantile"
)

// Dist summarizes a set of durations by nearest-rank percentiles (see
// package quantile).
type Dist struct {
	N             int
	P50, P99, Max time.Duration
}

// Summarize returns the distribution of ds, which it does not modify.
func Summarize(ds []time.Duration) Dist {
	s := slices.Clone(ds)
	slices.Sort(s)
	return Dist{N: len(s), P50: quantile.Sorted(s, 50), P99: quantile.Sorted(s, 99), Max: quantile.Sorted(s, 100)}
}
