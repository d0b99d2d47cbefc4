package bench_test

import (
	"slices"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/bench"
)

func TestSummarize(t *testing.T) {
	ms := func(vs ...int) []time.Duration {
		out := make([]time.Duration, len(vs))
		for i, v := range vs {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	oneToTen := ms(7, 3, 10, 1, 9, 2, 8, 4, 6, 5)
	if d := bench.Summarize(nil); d != (bench.Dist{}) {
		t.Errorf("Summarize(nil) = %+v", d)
	}
	if d := bench.Summarize(ms(42)); d.N != 1 || d.P50 != 42*time.Millisecond || d.P99 != 42*time.Millisecond || d.Max != 42*time.Millisecond {
		t.Errorf("Summarize of one value = %+v", d)
	}
	d := bench.Summarize(oneToTen)
	if d.N != 10 || d.P50 != 5*time.Millisecond || d.P99 != 10*time.Millisecond || d.Max != 10*time.Millisecond {
		t.Errorf("Summarize = %+v", d)
	}
	if oneToTen[0] != 7*time.Millisecond {
		t.Error("Summarize sorted its argument")
	}
}

// Property 13: the percentiles of a set of timings represent its
// distribution: each is one of the values, at least p % of the values are
// at or below it, and fewer are strictly below it.
func TestSummarizeIsTheNearestRank(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		ds := rapid.SliceOfN(rapid.Custom(func(rt *rapid.T) time.Duration {
			return time.Duration(rapid.Int64Range(0, int64(time.Minute)).Draw(rt, "d"))
		}), 1, 300).Draw(rt, "durations")
		d := bench.Summarize(ds)
		for _, c := range []struct {
			p   int
			got time.Duration
		}{{50, d.P50}, {99, d.P99}, {100, d.Max}} {
			if !slices.Contains(ds, c.got) {
				rt.Fatalf("p%d = %v is not one of the values", c.p, c.got)
			}
			atOrBelow, below := 0, 0
			for _, v := range ds {
				if v <= c.got {
					atOrBelow++
				}
				if v < c.got {
					below++
				}
			}
			// need = ceil(p·n/100), in integers.
			need := (c.p*len(ds) + 99) / 100
			if atOrBelow < need || below >= need {
				rt.Fatalf("p%d = %v: %d values at or below, %d below, rank %d of %d", c.p, c.got, atOrBelow, below, need, len(ds))
			}
		}
	})
}
