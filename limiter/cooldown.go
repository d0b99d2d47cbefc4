package limiter

import (
	"context"
	"time"

	"github.com/councilhq/council/provider"
)

// cooldownConfig says when a key cools down and for how long.
type cooldownConfig struct {
	// after is the number of consecutive failures that starts a cooldown;
	// zero or less disables cooldowns.
	after int
	// base is the first cooldown; each failed probe doubles it, up to max.
	base, max time.Duration
}

// breaker is the cooldown state of one key: closed (calls go through),
// cooling (calls are refused until until), or half-open once until has
// passed (one probe call goes through; the others are refused until it
// ends). Its methods are called with the owning entry's mutex held.
type breaker struct {
	failures int
	until    time.Time
	trips    int
	probing  bool
}

// admit decides whether a call may go at now. A refused call learns how
// long the cooldown still lasts (zero while a probe is out).
func (b *breaker) admit(now time.Time, cfg cooldownConfig) (ok, probe bool, left time.Duration) {
	switch {
	case cfg.after <= 0 || b.until.IsZero():
		return true, false, 0
	case now.Before(b.until):
		return false, false, b.until.Sub(now)
	case b.probing:
		return false, false, 0
	}
	b.probing = true
	return true, true, 0
}

// outcome is what a call's result says about the model's health.
type outcome int

const (
	neutral outcome = iota
	healthy
	failed
)

// outcomeOf classifies a call's result. Only failures that say the model is
// down count (overload, 5xx, the attempt's own timeout, connection errors,
// undecodable answers); rate limits, quota, bad requests and calls whose
// caller went away say nothing about its health.
func outcomeOf(ctx context.Context, err error) outcome {
	if err == nil {
		return healthy
	}
	if ctx.Err() != nil {
		return neutral
	}
	switch provider.AsError(err).Kind {
	case provider.KindOverloaded, provider.KindUpstream, provider.KindTimeout, provider.KindNetwork, provider.KindMalformed:
		return failed
	}
	return neutral
}

// record books a call's outcome at now. It returns the length of the
// cooldown the outcome started, or 0.
func (b *breaker) record(now time.Time, o outcome, probe bool, cfg cooldownConfig) time.Duration {
	if probe {
		b.probing = false
	}
	switch o {
	case healthy:
		*b = breaker{}
	case failed:
		b.failures++
		if cfg.after > 0 && (probe || (b.until.IsZero() && b.failures >= cfg.after)) {
			d := cfg.base
			for i := 0; i < b.trips && d < cfg.max; i++ {
				d *= 2
			}
			d = min(d, cfg.max)
			b.trips++
			b.failures = 0
			b.until = now.Add(d)
			return d
		}
	}
	return 0
}

// idle reports whether the breaker is closed with nothing counted.
func (b *breaker) idle() bool { return *b == breaker{} }
