package admission

import (
	"math"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// genConfig draws a valid configuration.
func genConfig(t *rapid.T) Config {
	maxLimit := rapid.IntRange(1, 5000).Draw(t, "max")
	return Config{
		Max:       maxLimit,
		Min:       rapid.IntRange(1, maxLimit).Draw(t, "min"),
		Initial:   rapid.IntRange(0, 2*maxLimit).Draw(t, "initial"),
		Tolerance: time.Duration(rapid.Int64Range(int64(time.Millisecond), int64(time.Second)).Draw(t, "tolerance")),
	}
}

func newTestLimit(t *rapid.T, cfg Config) *Limit {
	l, err := NewLimit(cfg)
	if err != nil {
		t.Fatalf("NewLimit(%+v): %v", cfg, err)
	}
	return l
}

// TestLimitStaysWithinBounds: whatever the samples, the limit never
// exceeds the static cap and never drops below the floor.
func TestLimitStaysWithinBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		l := newTestLimit(t, cfg)
		samples := rapid.SliceOfN(rapid.Custom(func(t *rapid.T) Sample {
			return Sample{
				Delay:    time.Duration(rapid.Int64Range(0, int64(10*time.Second)).Draw(t, "delay")),
				InFlight: rapid.IntRange(0, 2*cfg.Max).Draw(t, "inFlight"),
			}
		}), 0, 200).Draw(t, "samples")
		for i, s := range append([]Sample{{}}, samples...) {
			got := l.Update(s)
			if got > cfg.Max || got < cfg.Min || got != l.Current() {
				t.Fatalf("after sample %d %+v: limit %d (Current %d), want within [%d, %d]", i, s, got, l.Current(), cfg.Min, cfg.Max)
			}
		}
	})
}

// TestLimitRisesWithoutAddedDelay: with no delay beyond the baseline and
// the limit in use, every window raises it until it reaches the cap.
func TestLimitRisesWithoutAddedDelay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		l := newTestLimit(t, cfg)
		baseline := time.Duration(rapid.Int64Range(0, int64(5*time.Millisecond)).Draw(t, "baseline"))
		l.Update(Sample{Delay: baseline})
		for range 5000 {
			before := l.Current()
			if before == cfg.Max {
				return
			}
			jitter := time.Duration(rapid.Int64Range(0, int64(cfg.Tolerance)).Draw(t, "jitter"))
			inUse := rapid.IntRange((before+1)/2, 2*cfg.Max).Draw(t, "inFlight")
			if got := l.Update(Sample{Delay: baseline + jitter, InFlight: inUse}); got <= before {
				t.Fatalf("delay %v over a baseline of %v with %d in flight: limit %d -> %d, want a rise", jitter, baseline, inUse, before, got)
			}
		}
		t.Fatalf("limit %d did not reach the cap %d", l.Current(), cfg.Max)
	})
}

// TestUnusedLimitHolds: a limit less than half used does not grow, so an
// idle period does not open the door to a burst.
func TestUnusedLimitHolds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		l := newTestLimit(t, genConfig(t))
		for range rapid.IntRange(1, 50).Draw(t, "windows") {
			before := l.Current()
			idle := rapid.IntRange(0, (before-1)/2).Draw(t, "inFlight")
			if got := l.Update(Sample{InFlight: idle}); got != before {
				t.Fatalf("%d in flight, no delay: limit %d -> %d, want it to hold", idle, before, got)
			}
		}
	})
}

// TestLimitFallsUnderSustainedDelay: once the baseline is known, a delay
// beyond the tolerance cuts the limit by 10 % to 50 % each window (at least
// by one) while the cut has taken effect, and a sustained delay takes it
// to the floor.
func TestLimitFallsUnderSustainedDelay(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		cfg.Initial = cfg.Max
		l := newTestLimit(t, cfg)
		l.Update(Sample{})
		for range 5000 {
			before := l.Current()
			if before == cfg.Min {
				return
			}
			over := time.Duration(rapid.Int64Range(1, int64(time.Minute)).Draw(t, "over"))
			inFlight := rapid.IntRange(0, before).Draw(t, "inFlight")
			got := l.Update(Sample{Delay: cfg.Tolerance + over, InFlight: inFlight})
			lowest := max(int(math.Floor(maxCut*float64(before))), cfg.Min)
			if got >= before || got < lowest {
				t.Fatalf("delay %v over the tolerance with %d in flight: limit %d -> %d, want within [%d, %d)",
					over, inFlight, before, got, lowest, before)
			}
		}
		t.Fatalf("limit %d did not reach the floor %d", l.Current(), cfg.Min)
	})
}

// TestLimitHoldsWhileCutTakesEffect: while more consultations run than a
// cut limit allows, further delay does not cut it again.
func TestLimitHoldsWhileCutTakesEffect(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := genConfig(t)
		l := newTestLimit(t, cfg)
		l.Update(Sample{})
		before := l.Current()
		over := rapid.IntRange(before+1, before+1000).Draw(t, "inFlight")
		if got := l.Update(Sample{Delay: time.Hour, InFlight: over}); got != before {
			t.Fatalf("%d in flight over a limit of %d: limit -> %d, want it to hold", over, before, got)
		}
	})
}

func TestNewLimitRejectsBadBounds(t *testing.T) {
	for _, cfg := range []Config{{}, {Max: -1}, {Max: 5, Min: 6}} {
		if _, err := NewLimit(cfg); err == nil {
			t.Errorf("NewLimit(%+v) succeeded", cfg)
		}
	}
	l, err := NewLimit(Config{Max: 100})
	if err != nil {
		t.Fatal(err)
	}
	if l.Current() != 25 || l.cfg.Min != 1 || l.cfg.Tolerance != DefaultTolerance {
		t.Errorf("defaults: limit %d, config %+v", l.Current(), l.cfg)
	}
}
