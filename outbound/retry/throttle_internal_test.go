package retry

import (
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/clock"
)

// A burst earns its budget: 1000 calls in flight, 50 of which fail, may
// all retry, which a fixed token bucket would not allow.
func TestThrottleBurst(t *testing.T) {
	th := newThrottle(DefaultBudgetRatio, DefaultBudgetFloor, time.Minute, clock.System())
	for range 1000 {
		th.started("k")
	}
	for i := range 50 {
		if !th.failed("k", false) {
			t.Fatalf("retry %d refused in a burst of 1000 calls", i+1)
		}
	}
}

// The retry budget: for any interleaving of calls and failures, the retries
// granted never exceed max(floor, ratio·calls), and while below that bound
// no unpaced retry is refused.
func TestPropertyRetryBudget(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		ratio := rapid.SampledFrom([]float64{0.1, 0.5, 1}).Draw(t, "ratio")
		floor := rapid.IntRange(0, 12).Draw(t, "floor")
		th := newThrottle(ratio, floor, time.Hour, clock.System())
		calls, granted := 0, 0
		for _, op := range rapid.SliceOfN(rapid.IntRange(0, 2), 1, 300).Draw(t, "ops") {
			switch op {
			case 0:
				th.started("k")
				calls++
			default:
				paced := op == 2
				bound := max(float64(floor), ratio*float64(calls))
				ok := th.failed("k", paced)
				if ok != (float64(granted+1) <= bound) {
					t.Fatalf("after %d calls and %d retries: retry allowed = %v, bound %v", calls, granted, ok, bound)
				}
				if ok && !paced {
					granted++
				}
			}
		}
	})
}
