package limiter

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/councilhq/council/provider"
)

// MetaProviderKey is the [provider.Request.Metadata] key naming the
// provider credential a call is made with: a label such as "openrouter" or
// "openrouter:team-a", never the secret. Calls without it share the empty
// key, which is right for a service with one credential.
const MetaProviderKey = "council.provider_key"

// KeyFunc groups calls: calls with the same key share a budget.
type KeyFunc func(req *provider.Request) string

// ByProviderModel keys a call by its provider key ([MetaProviderKey]) and
// model, the granularity at which providers meter requests.
func ByProviderModel(req *provider.Request) string {
	return req.Metadata[MetaProviderKey] + "|" + req.Model
}

// ByProvider keys a call by its provider key alone.
func ByProvider(req *provider.Request) string { return req.Metadata[MetaProviderKey] }

// Limiter holds back calls so that they use a provider's budget fully
// without running into its limits. It keeps, per key ([WithKey]):
//
//   - an adaptive budget fed by the provider's own signals (see
//     [ParseHeaders]): while what is left of a window covers a call, the
//     call goes at once; when it does not, the call waits for the
//     announced reset or Retry-After, never longer and never shorter, and
//     the rate recovers as soon as the budget returns. Calls in flight are
//     counted against what the provider announced, so concurrent calls do
//     not overdraw it. When a provider announces its budget only on a 429
//     (OpenRouter), the limiter learns the limit and the window from it;
//     while a reset is unknown and the budget spent, one call at a time is
//     let through to learn it;
//   - a cooldown: after consecutive failures that say the model is down,
//     its calls are refused at once ([provider.KindCooldown]) until the
//     cooldown ends and a probe call succeeds ([WithCooldown]).
//
// Per provider key ([WithProviderKey]) it caps the calls in flight
// ([WithMaxInFlight]); later calls queue.
//
// With no limit in play a call is not delayed at all. A Limiter has no
// goroutines and nothing to close; the zero value is not usable, use [New].
// It is safe for concurrent use.
type Limiter struct {
	cfg      config
	inflight inflight
	mu       sync.Mutex
	entries  map[string]*entry
}

// entry is the state of one key.
type entry struct {
	refs    int // calls using the entry; guarded by Limiter.mu
	mu      sync.Mutex
	budget  budget
	breaker breaker
}

// New returns a Limiter configured by opts.
func New(opts ...Option) *Limiter {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o.applyLimiter(&cfg)
		}
	}
	return &Limiter{
		cfg:      cfg,
		inflight: inflight{n: cfg.maxInFlight},
		entries:  make(map[string]*entry),
	}
}

// Interceptor returns the interceptor that applies the limiter to every
// call through it. Place it inside [Retry] (so that every attempt is
// limited) and outside [provider.Timeout] (so that waiting does not eat
// into an attempt's time):
//
//	telemetry → Retry → Limiter → Timeout → transport
//
// A call is refused without being sent when its model is cooling down
// ([provider.KindCooldown]) or when its wait for the budget cannot end
// before the context's deadline, or the deadline passes while it waits
// ([provider.KindLimited]); neither is retried. A successful Response
// carries in Waited the time the call was held back. Each wait and each
// cooldown is a span event ([EventRateLimitWait], [EventCooldown],
// [EventCooldownStart]).
func (l *Limiter) Interceptor() provider.Interceptor {
	return l.intercept
}

func (l *Limiter) intercept(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
	clk := l.cfg.clock
	key := l.cfg.key(req)
	e := l.acquire(key)
	defer l.release(key, e)

	e.mu.Lock()
	ok, probe, left := e.breaker.admit(clk.Now(), l.cfg.cooldown)
	e.mu.Unlock()
	if !ok {
		event(ctx, EventCooldown, left)
		return nil, &provider.Error{Kind: provider.KindCooldown, RetryAfter: left, Message: "model is cooling down after repeated failures"}
	}

	start := clk.Now()
	c := costOf(req)
	budgetProbe, err := l.wait(ctx, e, c)
	if err == nil {
		var release func()
		if release, err = l.queue(ctx, l.cfg.providerKey(req)); err != nil {
			e.mu.Lock()
			e.budget.settle(clk.Now(), clk.Now(), Signal{}, c, budgetProbe, false)
			e.mu.Unlock()
		} else {
			sent := clk.Now()
			var resp *provider.Response
			resp, err = next.Complete(ctx, req)
			release()
			l.settle(e, sent, c, budgetProbe, resp, err)
			if err == nil {
				if waited := sent.Sub(start); !addWaited(ctx, waited) {
					resp.Waited += waited
				}
				l.record(ctx, e, healthy, probe)
				return resp, nil
			}
		}
	}
	if local(provider.AsError(err).Kind) {
		addWaited(ctx, clk.Now().Sub(start))
		l.record(ctx, e, neutral, probe)
	} else {
		l.record(ctx, e, outcomeOf(ctx, err), probe)
	}
	return nil, err
}

// wait holds the call back until the budget of e admits it. It reports
// whether the call was admitted as the probe of an unknown reset.
func (l *Limiter) wait(ctx context.Context, e *entry, c cost) (bool, error) {
	clk := l.cfg.clock
	for {
		e.mu.Lock()
		now := clk.Now()
		ok, probe, until := e.budget.admit(now, c)
		changed := e.budget.changed
		e.mu.Unlock()
		if ok {
			return probe, nil
		}
		var d time.Duration
		if !until.IsZero() {
			d = until.Sub(now)
			if dl, has := ctx.Deadline(); has && until.After(dl) {
				return false, &provider.Error{Kind: provider.KindLimited, RetryAfter: d, Message: "rate-limit wait would pass the deadline"}
			}
		}
		event(ctx, EventRateLimitWait, d, AttrReason.String("budget"))
		if err := waitFor(ctx, clk, d, changed); err != nil {
			return false, limitedBy(err, "rate-limit wait")
		}
	}
}

// waitFor waits until d has passed (when d > 0), changed is closed or ctx
// is done.
func waitFor(ctx context.Context, clk Clock, d time.Duration, changed <-chan struct{}) error {
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

// queue takes an in-flight slot of the provider key pk; the returned
// function gives it back.
func (l *Limiter) queue(ctx context.Context, pk string) (func(), error) {
	sem := l.inflight.slot(pk)
	if sem == nil {
		return func() {}, nil
	}
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	default:
	}
	event(ctx, EventRateLimitWait, 0, AttrReason.String("in_flight"))
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, limitedBy(ctx.Err(), "in-flight queue")
	}
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

// settle feeds the signals of a call's result to the budget of e.
func (l *Limiter) settle(e *entry, sent time.Time, c cost, probe bool, resp *provider.Response, err error) {
	done := l.cfg.clock.Now()
	var h http.Header
	var retryAfter time.Duration
	limited := false
	if err == nil {
		h = resp.Header
	} else {
		pe := provider.AsError(err)
		h, retryAfter = pe.Header, pe.RetryAfter
		limited = pe.Kind == provider.KindRateLimited
	}
	sig := ParseHeaders(h, done)
	if retryAfter > 0 {
		sig.RetryAt = later(sig.RetryAt, done.Add(retryAfter))
	}
	e.mu.Lock()
	e.budget.settle(sent, done, sig, c, probe, limited)
	e.mu.Unlock()
}

// record books the outcome of a call on the cooldown of e.
func (l *Limiter) record(ctx context.Context, e *entry, o outcome, probe bool) {
	now := l.cfg.clock.Now()
	e.mu.Lock()
	d := e.breaker.record(now, o, probe, l.cfg.cooldown)
	e.mu.Unlock()
	if d > 0 {
		event(ctx, EventCooldownStart, d)
	}
}

// acquire returns the entry of key, creating it if needed, and holds it.
func (l *Limiter) acquire(key string) *entry {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[key]
	if !ok {
		e = &entry{budget: newBudget()}
		l.entries[key] = e
	}
	e.refs++
	return e
}

// release lets go of e, dropping it when no call holds it and it has
// learned nothing, so that keys seen once do not accumulate.
func (l *Limiter) release(key string, e *entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs > 0 {
		return
	}
	e.mu.Lock()
	idle := !e.budget.learned(l.cfg.clock.Now()) && e.breaker.idle()
	e.mu.Unlock()
	if idle {
		delete(l.entries, key)
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
