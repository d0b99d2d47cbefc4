package limiter

import (
	"context"
	"time"

	"github.com/councilhq/council/provider"
)

// CooldownRule says when a model key cools down and for how long. A key
// cools down when, among the calls of the last Window that say something
// about the model's health (see below), there are at least MinCalls and
// at least FailureRatio of them failed. Its calls are then refused for
// Base; after that one probe call goes through: a probe that fails
// starts a cooldown twice as long (up to Max), one that succeeds ends it
// and starts the count afresh.
//
// Only the provider's own answers about the model count: a success, and
// the failures that say it is down (overload, 5xx, connection errors,
// undecodable answers). Rate limits, quota, bad requests, calls the
// caller cancelled or whose deadline passed (ours, however the time went:
// waiting in our queues or for the model), and refusals of the limiter
// itself count neither way. The window is counted in tenths: a call
// counts while the tenth of the window it ended in is one of the last ten.
type CooldownRule struct {
	// MinCalls is the fewest counted calls in the window that can start a
	// cooldown; zero or less disables cooldowns.
	MinCalls int
	// FailureRatio is the share of the counted calls that must have
	// failed, above 0 and at most 1.
	FailureRatio float64
	// Window is how far back calls count.
	Window time.Duration
	// Base is the first cooldown; each failed probe doubles it, up to Max.
	Base, Max time.Duration
}

// DefaultCooldownRule cools a model down when at least half of at least 20
// calls in 10 s failed, for 30 s, doubling up to 5 min. At a 5 % rate of
// independent failures, half of 20 calls fail about once in 10¹⁰ windows,
// so chance never puts a busy healthy model to sleep, while a model that
// is down trips it within its first 20 calls.
var DefaultCooldownRule = CooldownRule{MinCalls: 20, FailureRatio: 0.5, Window: 10 * time.Second, Base: 30 * time.Second, Max: 5 * time.Minute}

// buckets is the number of tenths a cooldown window is counted in.
const buckets = 10

// breaker is the cooldown state of one key: closed (calls go through,
// their outcomes counted in the window), cooling (calls are refused until
// until), or half-open once until has passed (one probe call goes
// through; the others are refused until it ends). Its methods are called
// with the owning entry's mutex held.
type breaker struct {
	ok, failed [buckets]int
	stamp      [buckets]int64 // the tenth each bucket counts, +1 (0: empty)
	until      time.Time
	trips      int
	probing    bool
}

// admit decides whether a call may go at now. A refused call learns how
// long the cooldown still lasts (zero while a probe is out).
func (b *breaker) admit(now time.Time, cfg CooldownRule) (ok, probe bool, left time.Duration) {
	switch {
	case cfg.MinCalls <= 0 || b.until.IsZero():
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

// tenth returns the index of the tenth of the window that now falls in.
func tenth(now time.Time, window time.Duration) int64 {
	return now.UnixNano()/max(int64(window/buckets), 1) + 1
}

// count books an outcome in the window and returns the counted calls and
// failures of the window that ends at now.
func (b *breaker) count(now time.Time, failed bool, cfg CooldownRule) (calls, failures int) {
	t := tenth(now, cfg.Window)
	i := t % buckets
	if b.stamp[i] != t {
		b.stamp[i], b.ok[i], b.failed[i] = t, 0, 0
	}
	if failed {
		b.failed[i]++
	} else {
		b.ok[i]++
	}
	for j := range buckets {
		if b.stamp[j] > t-buckets {
			calls += b.ok[j] + b.failed[j]
			failures += b.failed[j]
		}
	}
	return calls, failures
}

// trips reports whether calls counted calls of which failures failed
// start a cooldown under cfg.
func (cfg CooldownRule) trips(calls, failures int) bool {
	return cfg.MinCalls > 0 && calls >= cfg.MinCalls && float64(failures) >= cfg.FailureRatio*float64(calls)
}

// record books a call's outcome at now. It returns the length of the
// cooldown the outcome started, or 0.
func (b *breaker) record(now time.Time, o outcome, probe bool, cfg CooldownRule) time.Duration {
	if probe {
		b.probing = false
	}
	if o == neutral || cfg.MinCalls <= 0 {
		return 0
	}
	if probe && o == healthy {
		*b = breaker{}
	}
	if !b.until.IsZero() && !probe {
		return 0 // a call admitted before the cooldown started
	}
	calls, failures := b.count(now, o == failed, cfg)
	if !probe && !cfg.trips(calls, failures) {
		return 0
	}
	if o == healthy {
		return 0
	}
	d := cfg.Base
	for i := 0; i < b.trips && d < cfg.Max; i++ {
		d *= 2
	}
	d = min(d, cfg.Max)
	trips := b.trips + 1
	*b = breaker{until: now.Add(d), trips: trips}
	return d
}

// idle reports whether the breaker is closed with nothing counted in the
// window that ends at now.
func (b *breaker) idle(now time.Time, cfg CooldownRule) bool {
	if !b.until.IsZero() || b.probing {
		return false
	}
	t := tenth(now, cfg.Window)
	for j := range buckets {
		if b.stamp[j] > t-buckets {
			return false
		}
	}
	return true
}
