package limiter

import (
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestCooldownTripsExactlyWhenTheRuleSays feeds a breaker random outcomes
// at random times and checks each against the rule worked out from the
// whole history: a failure starts a cooldown exactly when, among the
// healthy and failed calls whose tenth of the window is one of the last
// ten, there are at least MinCalls and at least FailureRatio of them
// failed; neutral outcomes never count; while closed every call is
// admitted; a cooldown refuses calls until it ends, then lets one probe
// through, and a healthy probe closes it with the count started afresh.
func TestCooldownTripsExactlyWhenTheRuleSays(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		rule := CooldownRule{
			MinCalls:     rapid.IntRange(1, 30).Draw(rt, "min calls"),
			FailureRatio: rapid.SampledFrom([]float64{0.25, 0.5, 0.75, 1}).Draw(rt, "ratio"),
			Window:       time.Duration(rapid.IntRange(1, 20).Draw(rt, "window s")) * time.Second,
			Base:         30 * time.Second, Max: 5 * time.Minute,
		}
		type call struct {
			at     time.Time
			failed bool
		}
		var b breaker
		var history []call // counted calls since the breaker last closed
		now := t0.Add(time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(rt, "start")))
		steps := rapid.IntRange(1, 300).Draw(rt, "steps")
		for i := range steps {
			now = now.Add(time.Duration(rapid.IntRange(0, 1500).Draw(rt, "gap ms")) * time.Millisecond)
			ok, probe, _ := b.admit(now, rule)
			if !ok || probe {
				rt.Fatalf("step %d: a closed breaker refused (ok %v) or probed (%v)", i, ok, probe)
			}
			o := rapid.SampledFrom([]outcome{healthy, failed, neutral}).Draw(rt, "outcome")
			d := b.record(now, o, false, rule)
			if o != neutral {
				history = append(history, call{now, o == failed})
			}
			calls, failures := 0, 0
			for _, c := range history {
				if tenth(c.at, rule.Window) > tenth(now, rule.Window)-buckets {
					calls++
					if c.failed {
						failures++
					}
				}
			}
			want := o == failed && calls >= rule.MinCalls && float64(failures) >= rule.FailureRatio*float64(calls)
			if (d > 0) != want {
				rt.Fatalf("step %d: %v with %d of %d calls failed in the window: cooldown %v, want one: %v", i, o, failures, calls, d, want)
			}
			if d == 0 {
				continue
			}
			if d != rule.Base {
				rt.Fatalf("cooldown of %v, want %v", d, rule.Base)
			}
			if ok, _, left := b.admit(now.Add(d-time.Millisecond), rule); ok || left != time.Millisecond {
				rt.Fatalf("a call 1ms before the cooldown ends: admitted %v, %v left", ok, left)
			}
			now = now.Add(d)
			if ok, probe, _ := b.admit(now, rule); !ok || !probe {
				rt.Fatalf("after the cooldown: admitted %v, probe %v; want the probe", ok, probe)
			}
			if ok, _, _ := b.admit(now, rule); ok {
				rt.Fatalf("a second call admitted while the probe is out")
			}
			if d := b.record(now, healthy, true, rule); d != 0 {
				rt.Fatalf("a healthy probe started a cooldown of %v", d)
			}
			history = []call{{now, false}}
		}
	})
}

// TestCooldownProbeFailureDoubles checks the cooldown's growth: a failed
// probe starts one twice as long, up to Max.
func TestCooldownProbeFailureDoubles(t *testing.T) {
	rule := CooldownRule{MinCalls: 1, FailureRatio: 1, Window: time.Second, Base: time.Second, Max: 3 * time.Second}
	var b breaker
	now := t0
	if d := b.record(now, failed, false, rule); d != time.Second {
		t.Fatalf("first cooldown %v", d)
	}
	for _, want := range []time.Duration{2 * time.Second, 3 * time.Second, 3 * time.Second} {
		now = b.until
		if ok, probe, _ := b.admit(now, rule); !ok || !probe {
			t.Fatalf("no probe at the end of the cooldown")
		}
		if d := b.record(now, failed, true, rule); d != want {
			t.Fatalf("cooldown after a failed probe %v, want %v", d, want)
		}
	}
}
