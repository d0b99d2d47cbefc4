package limiter

import (
	"slices"
	"time"
)

// window is what the limiter believes about one resource of one key: how
// much is left until the provider's budget is back in full.
//
// Two estimates bound what is left, and the smaller one is used. The count
// is the limiter's own: set when a window opens and lowered by every call
// it admits. The announcement is the provider's: the lowest remaining
// announced in the window came with the call the provider processed last,
// and the provider has not yet seen the calls sent after that one and still
// in flight. The count covers this client's calls even when answers arrive
// out of order; the announcement covers everyone's.
//
// A reset announced as a delay is only known to lie between the moment the
// request was sent plus the delay (lo) and the moment its answer was read
// plus the delay (hi); an absolute reset has lo == hi. The limiter waits
// for hi, and two announcements belong to the same window when their
// intervals overlap, so an answer that was processed earlier but arrives
// later can never pass for a newer window.
type window struct {
	// known is true while the window's budget is in force.
	known bool
	limit int64
	// count is the limiter's own estimate of what is left.
	count int64
	// own is the least the provider can have left if only the calls this
	// budget admits spend it: an announcement less what the budget's other
	// calls may have taken since the provider processed its call (those in
	// flight and those that ended after it was sent), lowered by every call
	// admitted since, or the limit less the calls in flight when the window
	// opened. It is not clamped at zero, so that a refused call can give
	// back exactly what it was counted for. An announcement below it means
	// calls the budget did not admit spend the window.
	own int64
	// ownFrom is the last call admitted when own was last set from the
	// limit or a new window's announcement: the calls up to it still in
	// flight were counted in it.
	ownFrom uint64
	// reported is true once the window has an announcement: the lowest
	// remaining announced (least) and the call that announced it (by).
	reported bool
	least    int64
	by       uint64
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
// take from it; seq is the last call admitted.
func (w *window) roll(now time.Time, outstanding int64, seq uint64) {
	if !w.known || w.hi.IsZero() || now.Before(w.hi) {
		return
	}
	w.prevLo, w.prevHi = w.lo, w.hi
	w.reported = false
	if w.limit == 0 {
		w.known, w.lo, w.hi = false, time.Time{}, time.Time{}
		return
	}
	w.count = max(w.limit-outstanding, 0)
	w.own, w.ownFrom = w.limit-outstanding, seq
	if w.period <= 0 {
		w.lo, w.hi = time.Time{}, time.Time{}
		return
	}
	k := now.Sub(w.hi)/w.period + 1
	w.lo, w.hi = w.lo.Add(k*w.period), w.hi.Add(k*w.period)
}

// observe applies the announcement of call seq: rem left, the reset in
// [lo, hi]. after is what the calls sent after seq and still in flight may
// take, others what every other call may have taken since the provider
// processed seq (see [budget.settle]). learn is true when the
// announcement came with a rate-limit rejection. It reports whether rem is
// below what the budget's own calls can have spent of the window.
func (w *window) observe(now, lo, hi time.Time, limit, rem int64, seq uint64, after, others int64, learn bool) (below bool) {
	if w.over(now, lo, hi) {
		return false
	}
	switch {
	case w.known && w.hi.IsZero():
		// The first announcement of the window opened by a roll.
		if learn && lo.Equal(hi) && w.prevLo.Equal(w.prevHi) {
			if p := hi.Sub(w.prevHi); w.period == 0 || p < w.period {
				w.period = p
			}
		}
		w.lo, w.hi = lo, hi
		w.reported, w.least, w.by = true, rem, seq
		below = rem < w.own
	case !w.known || lo.After(w.hi):
		// The first announcement ever, or one of a window newer than the
		// one the limiter knows: the announcement is all there is.
		w.known, w.lo, w.hi = true, lo, hi
		w.reported, w.least, w.by = true, rem, seq
		w.count = max(rem-after, 0)
		w.own = rem - others
	case hi.Before(w.lo):
		return false // an older answer of the current window's predecessor
	default:
		below = rem < w.own
		if !w.reported || rem < w.least || (rem == w.least && seq > w.by) {
			w.reported, w.least, w.by = true, rem, seq
		}
		w.lo, w.hi = later(w.lo, lo), later(w.hi, hi)
	}
	if limit > 0 {
		w.limit = limit
	}
	w.own = max(w.own, rem-others)
	return below
}

// over reports whether an announcement received at now with the reset in
// [lo, hi] speaks of a window that is already over: a delay answered late
// may speak of the window that passed although it ends after it.
func (w *window) over(now, lo, hi time.Time) bool {
	return !hi.After(now) || (!w.prevHi.IsZero() && !lo.After(w.prevHi))
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cost is what one call takes from each resource.
type cost [NumResources]int64

// inFlight is an admitted call that has not ended; ended is the budget's
// ended when it was admitted.
type inFlight struct {
	seq   uint64
	c     cost
	ended cost
}

// budget is the accounting of one key. Its methods are called with the
// Limiter's mutex held.
type budget struct {
	w [NumResources]window
	// retryAt is the earliest time the provider accepts another call.
	retryAt time.Time
	// seq numbers the admitted calls; out holds those still in flight.
	seq uint64
	out []inFlight
	// ended is what the calls that have ended, not refused, took in all.
	ended cost
	// probing is true while a call is out to learn an unknown reset.
	probing bool
	// skew is how far the provider's clock is known to be ahead of ours
	// at least (negative when behind), learned from its Date headers at
	// skewAt; skewAt is zero while nothing is known.
	skew   time.Duration
	skewAt time.Time
}

// skewMemory is how long a learned clock offset is kept before a new
// announcement may lower it.
const skewMemory = time.Minute

// resetGuard is added to every reset announced as a time of a provider
// whose clock offset is known: such resets are announced truncated (to the
// millisecond or the second).
const resetGuard = 5 * time.Millisecond

// learnSkew learns the provider's clock offset from a Date header, date,
// on an answer received at done. The provider wrote date (truncated to the
// second) no earlier than its clock said date and no later than done by
// ours, so its clock is at least date-done ahead of ours. The highest such
// bound is kept, so that over many answers it comes within the round trip
// of the true offset, and it is never above it: waits corrected by it end
// no earlier than the provider's reset. After skewMemory a new bound
// replaces it, so that a provider's clock that is set back is followed.
func (b *budget) learnSkew(date, done time.Time) {
	if date.IsZero() {
		return
	}
	low := date.Sub(done)
	if b.skewAt.IsZero() || low > b.skew || done.Sub(b.skewAt) > skewMemory {
		b.skew, b.skewAt = low, done
	}
}

// local converts the quotas' resets announced as times of the provider's
// clock to ours, with the guard, and returns them. While the offset is
// unknown (no Date header) the resets are taken as they are.
func (b *budget) local(quotas []Quota) []Quota {
	if b.skewAt.IsZero() {
		return quotas
	}
	for i, q := range quotas {
		if q.Announced && !q.Relative && !q.Reset.IsZero() {
			quotas[i].Reset = q.Reset.Add(-b.skew + resetGuard)
		}
	}
	return quotas
}

// after returns what the calls admitted after seq and still in flight may
// take of resource r.
func (b *budget) after(r int, seq uint64) int64 {
	var n int64
	for _, f := range b.out {
		if f.seq > seq {
			n += f.c[r]
		}
	}
	return n
}

// left returns the estimate of what is left of resource r.
func (b *budget) left(r int) int64 {
	w := &b.w[r]
	if !w.reported {
		return w.count
	}
	return max(min(w.count, w.least-b.after(r, w.by)), 0)
}

// check decides whether a call costing c may be sent at now. If not, it
// returns the time to wait until, or the zero time when only the end of
// another call can help. When a resource is spent and its reset unknown,
// the calls still in flight may announce it, so the call waits for them;
// when none is in flight it may go as the probe that learns it, one at a
// time.
func (b *budget) check(now time.Time, c cost) (ok, probe bool, until time.Time) {
	if now.Before(b.retryAt) {
		return false, false, b.retryAt
	}
	wait := false
	for r := range b.w {
		w := &b.w[r]
		w.roll(now, b.after(r, 0), b.seq)
		need := c[r]
		if need <= 0 || !w.known {
			continue
		}
		if w.limit > 0 {
			need = min(need, w.limit) // a call larger than the limit waits for a full window
		}
		switch {
		case b.left(r) >= need:
		case !w.hi.IsZero():
			until = later(until, w.hi)
		case len(b.out) > 0:
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

// take books a call admitted by check and returns its sequence number.
func (b *budget) take(c cost, probe bool) uint64 {
	for r := range b.w {
		if w := &b.w[r]; w.known {
			w.count = max(w.count-c[r], 0)
			w.own -= c[r]
		}
	}
	b.seq++
	b.out = append(b.out, inFlight{seq: b.seq, c: c, ended: b.ended})
	b.probing = b.probing || probe
	return b.seq
}

// settle books the end of call seq, sent at sent and answered at done with
// the announced quotas and retry time. limited is true for a rate-limit
// rejection; with empty, such a rejection empties a known request window
// even when it announces nothing. It reports whether the requests
// announced left are fewer than the budget's own calls can have spent of
// the window, and what the budget's other calls may have taken since the
// provider processed call seq: those still in flight and those answered,
// not refused, after it was sent. In the first window a budget learns,
// which may hold every call it made, a shortfall counts only when keyCalls,
// the requests its provider key's calls may have spent in all, explain it:
// one left by an earlier process or another client does not speak of a
// shared budget.
func (b *budget) settle(sent, done time.Time, quotas []Quota, retryAt time.Time, seq uint64, probe, limited, empty bool, keyCalls int64) (below bool, others cost) {
	var f inFlight
	if i := slices.IndexFunc(b.out, func(f inFlight) bool { return f.seq == seq }); i >= 0 {
		f = b.out[i]
		b.out = slices.Delete(b.out, i, i+1)
		for r := range others {
			others[r] = b.ended[r] - f.ended[r] + b.after(r, 0)
			switch w := &b.w[r]; {
			case !limited:
				b.ended[r] += f.c[r]
			case w.known:
				w.own += f.c[r] // a refused call took nothing
			}
		}
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
		lo, hi := bounds(q, sent, done)
		w := &b.w[r]
		first := !w.known && w.hi.IsZero() && w.prevHi.IsZero()
		fresh := !w.over(done, lo, hi) && (!w.known || lo.After(w.hi))
		if w.over(done, lo, hi) && !limited && w.known && seq <= w.ownFrom {
			// A call counted in the window that spent the one before.
			w.own += f.c[r]
		}
		if w.observe(done, lo, hi, q.Limit, q.Remaining, seq, b.after(r, seq), others[r], limited) {
			below = below || Resource(r) == Requests
		}
		if fresh {
			w.ownFrom = b.seq
		}
		if first && w.known && w.limit > 0 {
			own := w.limit - b.ended[r] - b.after(r, 0)
			if Resource(r) == Requests && q.Remaining < own && q.Remaining >= w.limit-keyCalls {
				below = true
			}
			w.own = max(w.own, own)
		}
	}
	if limited && empty && !announced && retryAt.IsZero() {
		if w := &b.w[Requests]; w.known && w.hi.After(done) {
			w.count = 0
		}
	}
	return below, others
}

// seed opens the windows of a new budget from the quotas and retry time
// announced to a call sent at sent and answered at done, other calls
// having taken others since the provider processed it, or being about to.
func (b *budget) seed(sent, done time.Time, quotas []Quota, retryAt time.Time, others cost) {
	b.retryAt = later(b.retryAt, retryAt)
	for r, q := range quotas {
		if q.Announced && !q.Reset.IsZero() {
			lo, hi := bounds(q, sent, done)
			b.w[r].observe(done, lo, hi, q.Limit, q.Remaining, 0, others[r], others[r], false)
		}
	}
}

// bounds returns the interval the announced reset of q lies in, for a call
// sent at sent and answered at done: a delay is measured from a moment
// between the two.
func bounds(q Quota, sent, done time.Time) (lo, hi time.Time) {
	lo, hi = q.Reset, q.Reset
	if q.Relative {
		lo = lo.Add(-done.Sub(sent))
	}
	return lo, hi
}

// room reports whether the budget's own calls cannot have spent the
// requests a call costing c needs from the current request window.
func (b *budget) room(c cost) bool {
	w := &b.w[Requests]
	return w.known && c[Requests] > 0 && w.own >= c[Requests]
}

// learned reports whether the budget holds anything worth keeping.
func (b *budget) learned(now time.Time) bool {
	if b.probing || now.Before(b.retryAt) || len(b.out) > 0 {
		return true
	}
	for _, w := range b.w {
		if w.known || w.limit > 0 || w.period > 0 {
			return true
		}
	}
	return false
}
