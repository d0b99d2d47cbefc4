package bench_test

import (
	"math"
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/bench"
)

func TestPercentile(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	oneToTen := ms(7, 3, 10, 1, 9, 2, 8, 4, 6, 5)
	for _, tc := range []struct {
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(42), 0.99, 42 * time.Millisecond},
		{oneToTen, 0.5, 5 * time.Millisecond},
		{oneToTen, 0.9, 9 * time.Millisecond},
		{oneToTen, 0.99, 10 * time.Millisecond},
		{oneToTen, 1, 10 * time.Millisecond},
		{oneToTen, 0.01, 1 * time.Millisecond},
	} {
		if got := bench.Percentile(tc.ds, tc.q); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.ds, tc.q, got, tc.want)
		}
	}
	if oneToTen[0] != 7*time.Millisecond {
		t.Error("Percentile sorted its argument")
	}
	d := bench.Summarize(oneToTen)
	if d.N != 10 || d.P50 != 5*time.Millisecond || d.P99 != 10*time.Millisecond || d.Max != 10*time.Millisecond {
		t.Errorf("Summarize = %+v", d)
	}
}

// Property 13: the percentile of a set of timings represents its
// distribution: it is one of the values, at least a fraction q of the
// values are at or below it, and fewer are strictly below it.
func TestPercentileIsTheNearestRank(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ds := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) time.Duration {
			return time.Duration(rapid.Int64Range(0, int64(time.Minute)).Draw(rt, "d"))
		}), 1, 300).Draw(rt, "durations")
		q := rapid.Float64Range(0.001, 1).Draw(rt, "q")
		p := bench.Percentile(ds, q)
		if !slices.Contains(ds, p) {
			rt.Fatalf("p%v = %v is not one of the values", q*100, p)
		}
		need := int(math.Ceil(q * float64(len(ds))))
		atOrBelow, below := 0, 0
		for _, d := range ds {
			if d <= p {
				atOrBelow++
			}
			if d < p {
				below++
			}
		}
		if atOrBelow < need || below >= need {
			rt.Fatalf("p%v = %v: %d values at or below, %d below, rank %d of %d", q*100, p, atOrBelow, below, need, len(ds))
		}
	})
}
