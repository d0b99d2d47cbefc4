package quantile_test

import (
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/quantile"
)

func TestKnownValues(t *testing.T) {
	ten := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, c := range []struct {
		p    float64
		want int
	}{{50, 5}, {90, 9}, {95, 10}, {99, 10}, {100, 10}, {10, 1}, {0.1, 1}, {0, 1}, {150, 10}} {
		if got := quantile.Sorted(ten, c.p); got != c.want {
			t.Errorf("p%v of 1..10 = %d, want %d", c.p, got, c.want)
		}
	}
	if got := quantile.Of([]int{}, 50); got != 0 {
		t.Errorf("p50 of nothing = %d, want 0", got)
	}
	unsorted := []int{5, 1, 4}
	if got := quantile.Of(unsorted, 100); got != 5 || !slices.Equal(unsorted, []int{5, 1, 4}) {
		t.Errorf("Of = %d and input %v; want 5 and the input untouched", got, unsorted)
	}
}

// The result is the smallest value with at least p % of the values at or
// below it, which is the nearest-rank definition (Property 13).
func TestPropertyNearestRank(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		vals := rapid.SliceOfN(rapid.IntRange(-1000, 1000), 1, 300).Draw(t, "values")
		p := float64(rapid.IntRange(1, 100).Draw(t, "p"))
		got := quantile.Of(vals, p)
		s := slices.Clone(vals)
		slices.Sort(s)
		n := len(s)
		for i, v := range s {
			// at least p% of values at or below s[i], counted in integers
			if 100*(i+1) >= int(p)*n {
				if got != v {
					t.Fatalf("p%v of %v = %d, want %d", p, s, got, v)
				}
				return
			}
		}
		t.Fatalf("no rank found")
	})
}
