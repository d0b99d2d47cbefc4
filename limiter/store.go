package limiter

import (
	"context"
	"github.com/councilhq/council/outbound/event"
	"time"

	"github.com/councilhq/council/provider"
)

// Store keeps what Limiters learn where several of them share it: one
// Limiter per replica of a service that spends one provider key. When a
// Limiter has one ([WithStore]), its calls are admitted by the store, so
// that the budgets, the Retry-After pauses, the cooldowns and the
// in-flight cap of a provider key hold across the replicas, and a 429 one
// replica sees paces every replica. Without one, or while the store
// returns errors, the Limiter admits calls from its own in-memory state,
// which keeps learning from the answers it sees in either case.
//
// Implementations must be safe for concurrent use, and must answer fast:
// an error makes the Limiter admit the call on its own, so a store that
// cannot be reached should fail at once rather than wait.
type Store interface {
	// Admit decides, in one atomic step, whether call may be sent at
	// now, and books it if so.
	Admit(ctx context.Context, call StoreCall, now time.Time) (Verdict, error)
	// Settle books the end of a call Admit let through, with what its
	// answer announced. It is called once per admitted call, even when
	// the call failed.
	Settle(ctx context.Context, lease Lease, s Settlement) error
	// CoolDown refuses the calls of the model key until until.
	CoolDown(ctx context.Context, modelKey string, until time.Time) error
}

// StoreCall is what a [Store] admits a call by.
type StoreCall struct {
	// ModelKey and ProviderKey name the call's budgets (see [WithKey] and
	// [ByProvider]).
	ModelKey, ProviderKey string
	// Cost is what the call takes from each resource of the model key's
	// budget, indexed by [Resource]; it takes one request from the
	// provider key's.
	Cost [NumResources]int64
	// MaxInFlight caps the calls in flight per provider key, over every
	// Limiter sharing the store; 0 means no cap.
	MaxInFlight int
	// Pooled is true when the Limiter has learned that the provider key's
	// models share the budgets they announce per model (see the package
	// documentation): the call also takes Cost from the key's pooled
	// budget. A store that keeps the learned scope ([Settlement.Scope])
	// pools the calls of every Limiter once one of them has learned it.
	Pooled bool
}

// Lease is a store's handle on an admitted call, opaque to the Limiter.
type Lease any

// Verdict is a [Store]'s answer to Admit.
type Verdict struct {
	// Admitted is true when the call may go; Lease then identifies it.
	Admitted bool
	Lease    Lease
	// Cooldown, when positive, refuses the call: its model key cools
	// down for that much longer.
	Cooldown time.Duration
	// Until is when the call should ask again; the zero time means when
	// another call has ended.
	Until time.Time
	// InFlight is true when the in-flight cap holds the call back.
	InFlight bool
}

// Settlement is what an admitted call's answer announced.
type Settlement struct {
	// Sent and Done are when the call was sent and its answer read.
	Sent, Done time.Time
	// Quotas are the model key's budgets, Shared the provider key's
	// request budget, as [ParseHeaders] read them: a reset announced as a
	// time of the provider's clock is as announced. The store corrects it
	// by the provider's clock offset, which it learns from Date, the
	// provider's clock when it answered (the zero time if unknown), as
	// the Limiter does, from every replica's answers.
	Quotas [NumResources]Quota
	Shared Quota
	Date   time.Time
	// RetryAt is the earliest time the provider accepts another call of
	// the model key, or the zero time.
	RetryAt time.Time
	// PoolRetryAt is RetryAt for the pooled budget: zero when the answer
	// announces the reset of its requests, which the pool follows.
	PoolRetryAt time.Time
	// Limited is true for a rate-limit rejection.
	Limited bool
	// Scope is the scope of the budgets announced per model that the
	// answer made the Limiter learn, [event.ScopePerKey] or [event.ScopePerModel], or
	// "" when it changed nothing. On [event.ScopePerKey] the store opens the
	// pooled budget from Quotas.
	Scope string
}

// storePoll is how often a call held back by a [Store] until other calls
// end asks again: the calls that end on other replicas wake no one here.
const storePoll = 50 * time.Millisecond

// WithStore makes the Limiter admit calls through s (see [Store]). A nil
// store is ignored.
func WithStore(s Store) Option {
	return func(c *config) {
		if s != nil {
			c.store = s
		}
	}
}

// waitStore admits the call through the store. It returns done false when
// the store failed, and the call is to be admitted from the Limiter's own
// state instead.
func (l *Limiter) waitStore(ctx context.Context, k *call) (err error, done bool) {
	clk := l.cfg.clock
	sc := StoreCall{ModelKey: k.key, ProviderKey: k.pk, Cost: k.c, MaxInFlight: l.cfg.maxInFlight}
	var last time.Time
	var lastInFlight, waited bool
	for {
		// The replica's own in-flight slots come first, in arrival
		// order, so that only the calls holding one ask the store.
		if err := l.takeSlot(ctx, k); err != nil {
			return err, true
		}
		l.mu.Lock()
		changed := l.changed
		sc.Pooled = k.ks.scope.pool != nil
		l.mu.Unlock()
		now := clk.Now()
		v, err := l.cfg.store.Admit(ctx, sc, now)
		if err != nil {
			k.freeSlot()
			return nil, false
		}
		if !v.Admitted {
			k.freeSlot()
		}
		switch {
		case v.Admitted:
			k.stored, k.lease = true, v.Lease
			// The Limiter's own budgets book the call too, so that they
			// keep learning while the store admits calls.
			l.mu.Lock()
			k.room = k.e.budget.room(k.c)
			k.modelSeq = k.e.budget.take(k.c, false)
			k.sharedSeq = k.ks.budget.take(k.c, false)
			if pool := k.ks.scope.pool; pool != nil {
				k.pool, k.poolSeq = pool, pool.take(k.c, false)
			}
			l.mu.Unlock()
			return nil, true
		case v.Cooldown > 0:
			l.cfg.observer.Observe(ctx, event.Event{Kind: event.Cooldown, Model: k.model, Delay: v.Cooldown})
			return &provider.Error{Kind: provider.KindCooldown, RetryAfter: v.Cooldown, Message: "model is cooling down after repeated failures"}, true
		}
		// Without a time, another call's end may let this one go: one
		// here wakes it at once, one on another replica at the next poll.
		d := storePoll
		if !v.Until.IsZero() {
			d = v.Until.Sub(now)
			if dl, has := ctx.Deadline(); has && v.Until.After(dl) {
				return &provider.Error{Kind: provider.KindLimited, RetryAfter: d, Message: "rate-limit wait would pass the deadline"}, true
			}
			changed = nil
		}
		if !waited || !v.Until.Equal(last) || v.InFlight != lastInFlight {
			reason, shown := "budget", d
			if v.InFlight {
				reason, shown = "in_flight", 0
			} else if v.Until.IsZero() {
				shown = 0
			}
			l.cfg.observer.Observe(ctx, event.Event{Kind: event.Wait, Model: k.model, Delay: shown, Reason: reason})
			last, lastInFlight, waited = v.Until, v.InFlight, true
		}
		if err := waitFor(ctx, clk, d, changed); err != nil {
			return limitedBy(err, "rate-limit wait"), true
		}
	}
}

// settleStore books the end of a call the store admitted, with what
// settle read of its answer. The store is told even when the call's
// context has ended.
func (l *Limiter) settleStore(ctx context.Context, k *call) {
	if !k.stored {
		return
	}
	_ = l.cfg.store.Settle(context.WithoutCancel(ctx), k.lease, k.settlement)
}
