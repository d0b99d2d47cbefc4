package limiter

import "time"

// window is what the limiter believes about one resource of one key: how
// much is left until the provider's budget is back in full.
//
// A reset announced as a delay is only known to lie between the moment the
// request was sent plus the delay (lo) and the moment its answer was read
// plus the delay (hi); an absolute reset has lo == hi. The limiter waits
// for hi, and two announcements belong to the same window when their
// intervals overlap, so an answer that was processed earlier but arrives
// later can never pass for a newer window.
type window struct {
	// known is true while remaining is in force.
	known     bool
	limit     int64
	remaining int64
	// lo and hi bound the reset of the current window; a zero hi means the
	// reset is unknown.
	lo, hi time.Time
	// prevLo and prevHi bound the last reset that passed.
	prevLo, prevHi time.Time
	// period is the learned spacing of resets (an upper bound), or 0. It is
	// learned only from absolute resets announced by rate-limit rejections,
	// so that windows can be predicted for providers that announce their
	// budget on 429s only; providers that announce it on every response
	// teach each new reset as it comes.
	period time.Duration
}

// roll opens the next window once the reset of the current one has passed:
// the budget is back to the limit, less what calls still in flight may
// take from it.
func (w *window) roll(now time.Time, outstanding int64) {
	if !w.known || w.hi.IsZero() || now.Before(w.hi) {
		return
	}
	w.prevLo, w.prevHi = w.lo, w.hi
	if w.limit == 0 {
		w.known, w.lo, w.hi = false, time.Time{}, time.Time{}
		return
	}
	w.remaining = max(w.limit-outstanding, 0)
	if w.period <= 0 {
		w.lo, w.hi = time.Time{}, time.Time{}
		return
	}
	k := now.Sub(w.hi)/w.period + 1
	w.lo, w.hi = w.lo.Add(k*w.period), w.hi.Add(k*w.period)
}

// observe applies one announcement: rem is what is left once the calls
// still in flight are counted, and the reset lies in [lo, hi]. learn is
// true when the announcement came with a rate-limit rejection.
func (w *window) observe(now, lo, hi time.Time, limit, rem int64, learn bool) {
	if !hi.After(now) || (!w.prevHi.IsZero() && !hi.After(w.prevHi)) {
		return // a window that is already over
	}
	switch {
	case !w.known || w.hi.IsZero() || lo.After(w.hi):
		// A newer window. Two absolute resets in a row give its period.
		if learn && lo.Equal(hi) && !w.prevHi.IsZero() && w.prevLo.Equal(w.prevHi) {
			if p := hi.Sub(w.prevHi); w.period == 0 || p < w.period {
				w.period = p
			}
		}
		w.known, w.lo, w.hi, w.remaining = true, lo, hi, rem
	case hi.Before(w.lo):
		return // an older answer of the current window's predecessor
	default:
		w.remaining = min(w.remaining, rem)
		w.lo, w.hi = later(w.lo, lo), later(w.hi, hi)
	}
	if limit > 0 {
		w.limit = limit
	}
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cost is what one call takes from each resource.
type cost [NumResources]int64

// budget is the accounting of one key. Its methods are called with the
// Limiter's mutex held.
type budget struct {
	w [NumResources]window
	// retryAt is the earliest time the provider accepts another call.
	retryAt time.Time
	// outstanding is what admitted calls that have not ended may take.
	outstanding cost
	// probing is true while a call is out to learn an unknown reset.
	probing bool
}

// check decides whether a call costing c may be sent at now. If not, it
// returns the time to wait until, or the zero time when only the end of
// another call can help. When a resource is spent and its reset unknown,
// the calls still in flight may announce it, so the call waits for them;
// when none is in flight it may go as the probe that learns it, one at a
// time.
func (b *budget) check(now time.Time, c cost) (ok, probe bool, until time.Time) {
	wait := false
	if now.Before(b.retryAt) {
		return false, false, b.retryAt
	}
	for r := range b.w {
		w := &b.w[r]
		w.roll(now, b.outstanding[r])
		need := c[r]
		if need <= 0 || !w.known {
			continue
		}
		if w.limit > 0 {
			need = min(need, w.limit) // a call larger than the limit waits for a full window
		}
		switch {
		case w.remaining >= need:
		case !w.hi.IsZero():
			until = later(until, w.hi)
		case b.outstanding[r] > 0:
			wait = true
		default:
			probe = true
		}
	}
	switch {
	case !until.IsZero():
		return false, false, until
	case wait || (probe && b.probing):
		return false, false, time.Time{}
	}
	return true, probe, time.Time{}
}

// take books a call admitted by check.
func (b *budget) take(c cost, probe bool) {
	for r := range b.w {
		if b.w[r].known {
			b.w[r].remaining = max(b.w[r].remaining-c[r], 0)
		}
		b.outstanding[r] += c[r]
	}
	b.probing = b.probing || probe
}

// settle books the end of a call admitted with cost c, sent at sent and
// answered at done with the announced quotas and retry time. limited is
// true for a rate-limit rejection; with empty, such a rejection empties a
// known request window even when it announces nothing.
func (b *budget) settle(sent, done time.Time, quotas []Quota, retryAt time.Time, c cost, probe, limited, empty bool) {
	for r := range b.outstanding {
		b.outstanding[r] = max(b.outstanding[r]-c[r], 0)
	}
	if probe {
		b.probing = false
	}
	b.retryAt = later(b.retryAt, retryAt)
	announced := false
	for r, q := range quotas {
		if !q.Announced || q.Reset.IsZero() {
			continue
		}
		announced = announced || Resource(r) == Requests
		lo := q.Reset
		if q.Relative {
			lo = lo.Add(-done.Sub(sent))
		}
		b.w[r].observe(done, lo, q.Reset, q.Limit, max(q.Remaining-b.outstanding[r], 0), limited)
	}
	if limited && empty && !announced && retryAt.IsZero() {
		if w := &b.w[Requests]; w.known && w.hi.After(done) {
			w.remaining = 0
		}
	}
}

// learned reports whether the budget holds anything worth keeping.
func (b *budget) learned(now time.Time) bool {
	if b.probing || now.Before(b.retryAt) || b.outstanding != (cost{}) {
		return true
	}
	for _, w := range b.w {
		if w.known || w.limit > 0 || w.period > 0 {
			return true
		}
	}
	return false
}
