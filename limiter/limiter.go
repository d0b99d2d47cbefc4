package limiter

import (
	"context"
	"errors"
	"github.com/councilhq/council/outbound/event"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/councilhq/council/internal/clock"

	"github.com/councilhq/council/provider"
)

// KeyFunc groups calls: calls with the same key share a budget.
type KeyFunc func(req *provider.Request) string

// ByProviderModel keys a call by its provider key ([provider.MetaProviderKey]) and
// model, the granularity at which providers meter requests.
func ByProviderModel(req *provider.Request) string {
	return req.Metadata[provider.MetaProviderKey] + "|" + req.Model
}

// ByProvider keys a call by its provider key alone.
func ByProvider(req *provider.Request) string { return req.Metadata[provider.MetaProviderKey] }

// Limiter holds back calls so that they use a provider's budget fully
// without running into its limits. It keeps:
//
//   - adaptive budgets fed by the provider's own signals (the typed
//     [provider.RateLimits] and [provider.Error.RetryAfter] its adapter
//     reads from the wire): one per provider key ([ByProvider]) for the
//     limits a provider sets per key (OpenRouter's), and one per model key
//     ([WithKey]) for the limits it sets per model (OpenAI's, Anthropic's)
//     and for Retry-After. While what is left of a window covers a call,
//     the call goes at once; when it does not, the call waits for the
//     announced reset or Retry-After, never longer and never shorter, and
//     the rate recovers as soon as the budget returns. Calls in flight are
//     counted against what the provider announced, so concurrent calls do
//     not overdraw it. When a provider announces its budget only on a 429
//     (OpenRouter), the limiter learns the limit and the window from it;
//     while a reset is unknown and the budget spent, one call at a time is
//     let through to learn it. A reset announced as a time of the
//     provider's clock is corrected by the clock offset learned from the
//     provider's Date headers, plus a small guard, so that no call goes
//     before the provider's reset by its own clock. The scope of the
//     budgets announced per model is learned per provider key: when a
//     model's budget runs out sooner than its own calls explain, the key's
//     models share one budget (see the package documentation);
//   - a cooldown per model key: when most of its recent calls failed in a
//     way that says the model is down ([CooldownRule]), its calls are
//     refused at once ([provider.KindCooldown]) until the cooldown ends
//     and a probe call succeeds ([WithCooldown]);
//   - an in-flight cap per provider key ([WithMaxInFlight]); later calls
//     wait for a slot first come, first served (a call that ends wakes
//     the one at the head of the queue, not all), and obey what the
//     budgets learned meanwhile.
//
// With a [Store] ([WithStore]) the same state is kept in the store and
// shared by every Limiter using it; the Limiter's own state keeps
// learning and admits calls while the store fails.
//
// With no limit in play a call is not delayed at all. A Limiter has no
// goroutines and nothing to close; the zero value is not usable, use [New].
// It is safe for concurrent use.
type Limiter struct {
	cfg config

	mu sync.Mutex
	// changed is closed, and replaced, whenever a call ends.
	changed chan struct{}
	models  map[string]*entry
	keys    map[string]*keyState
}

// entry is the state of one model key.
type entry struct {
	refs    int // calls using the entry
	budget  budget
	breaker breaker
}

// keyState is the state of one provider key: its shared budget, the
// learned scope of the budgets its models announce, and its in-flight
// slots (nil without a cap), which calls take first come, first served; a
// call that ends wakes only the call at the head of the queue.
type keyState struct {
	budget budget
	scope  scope
	slots  *semaphore.Weighted
}

// New returns a Limiter configured by opts.
func New(opts ...Option) *Limiter {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	return &Limiter{
		cfg:     cfg,
		changed: make(chan struct{}),
		models:  make(map[string]*entry),
		keys:    make(map[string]*keyState),
	}
}

// Interceptor returns the interceptor that applies the limiter to every
// call through it. Place it inside the retry interceptor, so that every
// attempt is limited (see package outbound).
//
// A call is refused without being sent when its model is cooling down
// ([provider.KindCooldown]) or when its wait for the budget cannot end
// before the context's deadline, or the deadline passes while it waits
// ([provider.KindLimited]); neither is retried. A successful Response
// carries in Waited the time the call was held back, and so does an error
// ([provider.Error.Waited]). Each wait and each
// cooldown is reported to the [event.Observer] ([event.Wait], [event.Cooldown],
// [event.CooldownStart]).
func (l *Limiter) Interceptor() provider.Interceptor {
	return l.intercept
}

// call is one call's hold on the limiter.
type call struct {
	e           *entry
	model       string
	key, pk     string
	ks          *keyState
	c           cost
	probe       bool   // the cooldown probe
	modelProbe  bool   // the probe of an unknown reset of the model budget
	sharedProbe bool   // the same for the shared budget
	modelSeq    uint64 // the call's numbers in its budgets
	sharedSeq   uint64
	// pool is the budget the key's models shared when the call was
	// admitted, or nil; poolSeq and poolProbe are the call's there.
	pool      *budget
	poolSeq   uint64
	poolProbe bool
	// room is true when the model budget's own calls had left room for
	// the call in the window it was admitted in.
	room bool
	// stored is true when a Store admitted the call, lease its handle on
	// it and settlement what to tell it when the call ends.
	stored     bool
	lease      Lease
	settlement Settlement
}

func (l *Limiter) intercept(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
	// This frame stays on the stack for the whole call, under the HTTP/2
	// transport's deepest calls: the call's state and what is done before
	// and after the call are kept out of it, so that it stays small.
	k := l.newCall(req)
	l.acquire(k)
	defer l.release(k)
	if err := l.admit(ctx, k); err != nil {
		return nil, err
	}
	start := l.cfg.clock.Now()
	err := l.wait(ctx, k)
	held := l.cfg.clock.Now().Sub(start)
	if err == nil {
		var resp *provider.Response
		resp, err = l.send(ctx, k, start.Add(held), req, next)
		if err == nil {
			resp.Waited += held
			l.record(ctx, k, healthy)
			return resp, nil
		}
	}
	return nil, l.failed(ctx, k, err, held)
}

// newCall returns the state of a call of req, on the heap rather than in
// the frame of [Limiter.intercept] (see there).
//
//go:noinline
func (l *Limiter) newCall(req *provider.Request) *call {
	return &call{model: req.Model, key: l.cfg.key(req), pk: ByProvider(req), c: costOf(req)}
}

// admit asks the model's breaker whether the call may go: a model cooling
// down after repeated failures refuses it with a [provider.KindCooldown]
// error.
func (l *Limiter) admit(ctx context.Context, k *call) error {
	l.mu.Lock()
	ok, probe, left := k.e.breaker.admit(l.cfg.clock.Now(), l.cfg.cooldown)
	l.mu.Unlock()
	if !ok {
		l.cfg.observer.Observe(ctx, event.Event{Kind: event.Cooldown, Model: k.model, Delay: left})
		return &provider.Error{Kind: provider.KindCooldown, RetryAfter: left, Message: "model is cooling down after repeated failures"}
	}
	k.probe = probe
	return nil
}

// failed records the failure err of a call that waited held before it was
// sent (or given up) and returns err with that wait added.
func (l *Limiter) failed(ctx context.Context, k *call, err error, held time.Duration) error {
	if provider.AsError(err).Kind.Local() {
		l.record(ctx, k, neutral)
	} else {
		l.record(ctx, k, outcomeOf(ctx, err))
	}
	if held > 0 {
		failed := *provider.AsError(err)
		failed.Waited += held
		err = &failed
	}
	return err
}

// send makes the admitted call and books its end, even if next panics.
func (l *Limiter) send(ctx context.Context, k *call, sent time.Time, req *provider.Request, next provider.Completer) (resp *provider.Response, err error) {
	settled := false
	defer func() {
		if !settled {
			now := l.cfg.clock.Now()
			l.settle(k, sent, now, Signal{}, false)
			l.settleStore(ctx, k)
		}
	}()
	resp, err = next.Complete(ctx, req)
	settled = true
	if s := l.observe(k, sent, resp, err); s != "" {
		l.cfg.observer.Observe(ctx, event.Event{Kind: event.Scope, Model: k.model, Scope: s})
	}
	l.settleStore(ctx, k)
	return resp, err
}

// wait holds the call back until its provider key gives it an in-flight
// slot, in arrival order, and both its budgets admit it, and then takes
// them, so that a call that queued for a slot still obeys what the budgets
// learned meanwhile. A call the budgets hold back gives its slot up while
// it waits: until a known time it sleeps until then; for an answer that
// announces an unknown reset it wakes whenever a call ends.
func (l *Limiter) wait(ctx context.Context, k *call) error {
	if l.cfg.store != nil {
		if err, done := l.waitStore(ctx, k); done {
			return err
		}
	}
	clk := l.cfg.clock
	var last time.Time
	waited := false
	for {
		if err := l.takeSlot(ctx, k); err != nil {
			return err
		}
		l.mu.Lock()
		now := clk.Now()
		okM, probeM, untilM := k.e.budget.check(now, k.c)
		okS, probeS, untilS := k.ks.budget.check(now, k.c)
		pool := k.ks.scope.pool
		okP, probeP, untilP := true, false, time.Time{}
		if pool != nil {
			okP, probeP, untilP = pool.check(now, k.c)
		}
		changed := l.changed
		if okM && okS && okP {
			k.room = k.e.budget.room(k.c)
			k.modelSeq = k.e.budget.take(k.c, probeM)
			k.sharedSeq = k.ks.budget.take(k.c, probeS)
			k.modelProbe, k.sharedProbe = probeM, probeS
			if pool != nil {
				k.pool, k.poolSeq, k.poolProbe = pool, pool.take(k.c, probeP), probeP
			}
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		k.freeSlot()
		until := later(later(untilM, untilS), untilP)
		var d time.Duration
		if !until.IsZero() {
			d = until.Sub(now)
			if dl, has := ctx.Deadline(); has && until.After(dl) {
				return &provider.Error{Kind: provider.KindLimited, RetryAfter: d, Message: "rate-limit wait would pass the deadline"}
			}
			changed = nil
		}
		if !waited || !until.Equal(last) {
			l.cfg.observer.Observe(ctx, event.Event{Kind: event.Wait, Model: k.model, Delay: d, Reason: "budget"})
			last, waited = until, true
		}
		if err := waitFor(ctx, clk, d, changed); err != nil {
			return limitedBy(err, "rate-limit wait")
		}
	}
}

// takeSlot waits for one of the key's in-flight slots, first come, first
// served.
func (l *Limiter) takeSlot(ctx context.Context, k *call) error {
	if k.ks.slots == nil || k.ks.slots.TryAcquire(1) {
		return nil
	}
	l.cfg.observer.Observe(ctx, event.Event{Kind: event.Wait, Model: k.model, Reason: "in_flight"})
	if err := k.ks.slots.Acquire(ctx, 1); err != nil {
		return limitedBy(err, "in-flight wait")
	}
	return nil
}

// freeSlot gives the call's in-flight slot back, waking the call at the
// head of the queue.
func (k *call) freeSlot() {
	if k.ks.slots != nil {
		k.ks.slots.Release(1)
	}
}

// waitFor waits until d has passed (when d > 0), changed is closed (when
// not nil) or ctx is done.
func waitFor(ctx context.Context, clk clock.Clock, d time.Duration, changed <-chan struct{}) error {
	var fired <-chan time.Time
	if d > 0 {
		t := clk.NewTimer(d)
		defer t.Stop()
		fired = t.C()
	}
	select {
	case <-fired:
	case <-changed:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// limitedBy turns the context error that ended a wait into the call's
// error: a deadline makes it [provider.KindLimited], a cancellation
// [provider.KindCanceled].
func limitedBy(err error, what string) *provider.Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &provider.Error{Kind: provider.KindLimited, Message: what + " ran past the deadline", Err: err}
	}
	return &provider.Error{Kind: provider.KindCanceled, Message: "canceled during " + what, Err: err}
}

// observe reads the signals of a call's result. It returns the scope of
// the budgets per model now in force when the result changed it, or "".
func (l *Limiter) observe(k *call, sent time.Time, resp *provider.Response, err error) string {
	done := l.cfg.clock.Now()
	var sig Signal
	limited := false
	if err == nil {
		sig = signalOf(resp.RateLimits, 0, done)
	} else {
		pe := provider.AsError(err)
		sig = signalOf(pe.RateLimits, pe.RetryAfter, done)
		limited = pe.Kind == provider.KindRateLimited
	}
	return l.settle(k, sent, done, sig, limited)
}

// settle books the end of a call on its budgets, learns from it the scope
// of the budgets its provider key's models announce, frees its in-flight
// slot and wakes the calls waiting. It returns the scope now in force,
// [event.ScopePerKey] or [event.ScopePerModel], when the call's answer changed it, or
// "".
func (l *Limiter) settle(k *call, sent, done time.Time, sig Signal, limited bool) (changed string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks := k.ks
	// The provider key's budget holds the provider's clock offset, which
	// every reset announced as a time of its clock is corrected by.
	// A store learns the offset itself, from every replica's answers.
	raw := sig
	ks.budget.learnSkew(sig.Date, done)
	quotas := ks.budget.local(sig.Quotas[:])
	// While the key's models share the pool, budgets follow the announced
	// reset: Retry-After, which Anthropic rounds up to whole seconds, holds
	// calls back only when the answer announces no reset.
	retryAt, poolRetryAt := sig.RetryAt, sig.RetryAt
	if q := quotas[Requests]; q.Announced && !q.Reset.IsZero() {
		poolRetryAt = time.Time{}
		if ks.scope.pool != nil {
			retryAt = poolRetryAt
		}
	}
	shared := ks.budget.local([]Quota{Requests: sig.Shared})
	k.settlement = Settlement{Sent: sent, Done: done, Quotas: raw.Quotas, Shared: raw.Shared, Date: raw.Date,
		RetryAt: sig.RetryAt, PoolRetryAt: poolRetryAt, Limited: limited}
	keyCalls := ks.budget.ended[Requests] + ks.budget.after(int(Requests), 0)
	below, _ := k.e.budget.settle(sent, done, quotas, retryAt, k.modelSeq, k.modelProbe, limited, true, keyCalls)
	_, others := ks.budget.settle(sent, done, shared, time.Time{}, k.sharedSeq, k.sharedProbe, limited, false, 0)
	if k.pool != nil {
		k.pool.settle(sent, done, quotas, poolRetryAt, k.poolSeq, k.poolProbe, limited, true, 0)
	}
	// A 429 that announces nothing while the model's own calls had left
	// room in its window speaks of a budget spent by others too.
	below = below || (limited && k.room && !quotas[Requests].Announced && !sig.Shared.Announced)
	if ks.scope.observe(k.key, sent, done, quotas[Requests], limited, below) {
		changed = event.ScopePerModel
		if p := ks.scope.pool; p != nil {
			// The pool starts from the answer that revealed it, less what
			// the key's other calls may have taken since.
			p.seed(sent, done, quotas, poolRetryAt, others)
			changed = event.ScopePerKey
		}
		k.settlement.Scope = changed
	}
	k.freeSlot()
	close(l.changed)
	l.changed = make(chan struct{})
	return changed
}

// record books the outcome of a call on the cooldown of its model key.
func (l *Limiter) record(ctx context.Context, k *call, o outcome) {
	now := l.cfg.clock.Now()
	l.mu.Lock()
	d := k.e.breaker.record(now, o, k.probe, l.cfg.cooldown)
	l.mu.Unlock()
	if d > 0 {
		l.cfg.observer.Observe(ctx, event.Event{Kind: event.CooldownStart, Model: k.model, Delay: d})
		if l.cfg.store != nil {
			_ = l.cfg.store.CoolDown(context.WithoutCancel(ctx), k.key, now.Add(d))
		}
	}
}

// acquire finds, or creates, the state of the call's keys and holds it.
func (l *Limiter) acquire(k *call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.models[k.key]
	if !ok {
		e = new(entry)
		l.models[k.key] = e
	}
	e.refs++
	ks, ok := l.keys[k.pk]
	if !ok {
		ks = new(keyState)
		if l.cfg.maxInFlight > 0 {
			ks.slots = semaphore.NewWeighted(int64(l.cfg.maxInFlight))
		}
		l.keys[k.pk] = ks
	}
	k.e, k.ks = e, ks
}

// release lets go of the call's model state, dropping it when no call
// holds it and it has learned nothing, so that keys seen once do not
// accumulate. The budgets of provider keys, which are few, are kept.
func (l *Limiter) release(k *call) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if k.e.refs--; k.e.refs == 0 && !k.e.budget.learned(l.cfg.clock.Now()) && k.e.breaker.idle(l.cfg.clock.Now(), l.cfg.cooldown) {
		delete(l.models, k.key)
	}
}

// costOf estimates what req takes from each resource: one request, about
// four characters per input token plus a few per message, and MaxTokens
// output tokens (0 when unset).
func costOf(req *provider.Request) cost {
	var in int64
	for _, m := range req.Messages {
		in += int64(len(m.Content))/4 + 4
	}
	out := int64(max(req.MaxTokens, 0))
	return cost{Requests: 1, Tokens: in + out, InputTokens: in, OutputTokens: out}
}
