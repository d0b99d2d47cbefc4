package admission

import (
	"fmt"
	"math"
	"time"
)

// Config bounds and tunes a [Limit].
type Config struct {
	// Max is the static cap: the limit never exceeds it. Required.
	Max int
	// Min is the floor: the limit never falls below it, so that a busy
	// machine still serves some consultations. Default 1; at most Max.
	Min int
	// Initial is the limit before any window has been measured. Default
	// Max/4, at least Min.
	Initial int
	// Tolerance is the added delay over the no-load baseline that still
	// counts as no overload. Default [DefaultTolerance].
	Tolerance time.Duration
}

// Defaults of [Config].
const (
	// DefaultTolerance is how much the scheduler delay may exceed its
	// no-load baseline before the limit is cut. An event sent 10 ms late
	// is well inside the design's 100 ms emit-delay bound.
	DefaultTolerance = 10 * time.Millisecond
)

// The most and least a limit is cut in one overloaded window, as factors.
const (
	maxCut = 0.5
	minCut = 0.9
)

// withDefaults fills the zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.Max <= 0 {
		return c, fmt.Errorf("admission: Max %d: want a positive cap", c.Max)
	}
	if c.Min <= 0 {
		c.Min = 1
	}
	if c.Min > c.Max {
		return c, fmt.Errorf("admission: Min %d exceeds Max %d", c.Min, c.Max)
	}
	if c.Initial <= 0 {
		c.Initial = c.Max / 4
	}
	c.Initial = min(max(c.Initial, c.Min), c.Max)
	if c.Tolerance <= 0 {
		c.Tolerance = DefaultTolerance
	}
	return c, nil
}

// Sample is what one window measured.
type Sample struct {
	// Delay is the window's added delay: a high percentile of the time
	// runnable work waited for a CPU.
	Delay time.Duration
	// InFlight is the most consultations that ran at once in the window.
	InFlight int
}

// Limit is the adaptive concurrency limit. It is not safe for concurrent
// use; [Controller] guards it.
type Limit struct {
	cfg      Config
	limit    int
	baseline time.Duration
	measured bool
}

// NewLimit returns a Limit at cfg.Initial. It fails when cfg.Max is not
// positive or cfg.Min exceeds it.
func NewLimit(cfg Config) (*Limit, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	return &Limit{cfg: cfg, limit: cfg.Initial}, nil
}

// Current is the number of consultations that may run at once.
func (l *Limit) Current() int { return l.limit }

// Baseline is the lowest delay seen so far, the no-load baseline.
func (l *Limit) Baseline() time.Duration { return l.baseline }

// Update moves the limit by one window's sample and returns it:
//   - delay within the baseline plus the tolerance, and at least half the
//     limit in use: the limit grows by its square root (at least 1), up to
//     Max. A limit nobody uses does not grow, so that an idle period does
//     not open the door to a burst;
//   - delay beyond it: the limit is multiplied by target/delay, clamped to
//     0.5–0.9, down to Min. While more consultations run than the limit
//     allows, an earlier cut has not taken effect yet, and the limit holds.
func (l *Limit) Update(s Sample) int {
	if !l.measured || s.Delay < l.baseline {
		l.baseline, l.measured = max(s.Delay, 0), true
	}
	target := l.baseline + l.cfg.Tolerance
	switch {
	case s.Delay <= target:
		if 2*s.InFlight >= l.limit {
			grow := max(1, int(math.Sqrt(float64(l.limit))))
			l.limit = min(l.limit+grow, l.cfg.Max)
		}
	case s.InFlight <= l.limit:
		factor := min(max(float64(target)/float64(s.Delay), maxCut), minCut)
		l.limit = max(min(int(float64(l.limit)*factor), l.limit-1), l.cfg.Min)
	}
	return l.limit
}
