// Package retry retries a model call whose failure is retryable, with
// exponential backoff and jitter, the waits the provider asks for, and a
// retry budget that keeps a failure storm from multiplying upstream
// traffic. It is one interceptor of the outbound chain (see package
// outbound), placed outside the limiter so that every attempt pays its
// share of the provider's budget.
package retry

import (
	"context"
	"errors"
	"github.com/councilhq/council/outbound/event"
	"time"

	"github.com/councilhq/council/internal/clock"
	"github.com/councilhq/council/provider"
)

// New returns an interceptor that retries a call whose failure is
// retryable ([provider.Error.Retryable]: 429 rate limits and transient 402
// in-flight budgets, 408, 5xx, overloads, connection errors, undecodable or
// empty answers not yet streamed). It never retries a bad request, an auth
// failure, an exhausted quota, credit or spend limit, a cooldown or
// rate-limit refusal of the limiter, or a call whose context is done.
//
// Retry n (0-based) waits 1 s·2ⁿ (see [WithBackoff]) plus a jitter of up to
// half of that: 1–1.5 s, 2–3 s, 4–6 s, 8–12 s …; a longer wait announced by
// the provider replaces it: a Retry-After (the headers, or
// [provider.Error.RetryAfter]) or the reset of a budget announced as spent
// ([provider.RateLimits.Wait]).
// A failure is not retried when the wait would pass the context's
// deadline, when it asks for more than [DefaultMaxRetryAfter], after
// [WithMaxRetries] retries, or while the model's retry budget
// ([WithBudget]) is spent. A rate-limit rejection that says when to
// come back is not a blind retry and does not spend the retry budget.
//
// The result carries Attempts, the number of attempts made, and a
// successful Response carries Waited, the time spent in backoff and in the
// waits of the limiter inside. When an attempt is refused locally (cooldown
// or rate limit) after an earlier attempt reached the provider, the
// provider's error is returned, as it says more about the failure. Each
// retry, and each retryable failure that is not retried, is reported to the
// [event.Observer] ([event.Retry], [event.RetryStop]).
//
// Place it outside the limiter, so that every attempt pays its share of
// the budget. It is safe for concurrent use.
func New(opts ...Option) provider.Interceptor {
	cfg := defaultConfig()
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	th := newThrottle(cfg.budgetRatio, cfg.budgetFloor, cfg.budgetWindow, cfg.clock)
	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		key := req.Metadata[provider.MetaProviderKey] + "|" + req.Model
		// slept is the backoff between attempts, waited the time the
		// attempts that were refused without being sent were held back.
		var slept, waited time.Duration
		var upstream error
		th.started(key)
		for attempt := 1; ; attempt++ {
			resp, err := next.Complete(ctx, req)
			if err == nil {
				resp.Attempts = attempt
				resp.Waited += waited + slept
				return resp, nil
			}
			pe := provider.AsError(err)
			if !errors.As(err, new(*provider.Error)) {
				err = pe
			}
			waited += pe.Waited
			if pe.Kind.Local() && upstream != nil {
				err, pe = upstream, provider.AsError(upstream)
				pe.Attempts = attempt
				return nil, err
			}
			pe.Attempts = attempt
			if !pe.Retryable() || ctx.Err() != nil {
				return nil, err
			}
			upstream = err
			d, stop := cfg.delay(ctx, th, key, attempt, pe)
			if stop != "" {
				cfg.observer.Observe(ctx, event.Event{Kind: event.RetryStop, Model: req.Model, Attempt: attempt, Delay: d, Reason: stop, Failure: pe.Kind})
				return nil, err
			}
			cfg.observer.Observe(ctx, event.Event{Kind: event.Retry, Model: req.Model, Attempt: attempt, Delay: d, Failure: pe.Kind})
			if clock.Sleep(ctx, cfg.clock, d) != nil {
				return nil, err
			}
			slept += d
		}
	}
}

// delay decides the wait before retrying a call whose attempt (1-based)
// failed with pe, or why there is no retry.
func (c *config) delay(ctx context.Context, th *throttle, key string, attempt int, pe *provider.Error) (time.Duration, string) {
	now := c.clock.Now()
	ra := max(pe.RateLimits.Wait(now), pe.RetryAfter)
	if !th.failed(key, pe.Kind == provider.KindRateLimited && ra > 0) {
		return 0, "retry_budget"
	}
	if attempt > c.maxRetries {
		return 0, "max_retries"
	}
	if ra > c.maxRetryAfter {
		return ra, "retry_after"
	}
	d := max(backoff(attempt-1, c.base, c.max, c.jitter()), ra)
	if dl, ok := ctx.Deadline(); ok && !now.Add(d).Before(dl) {
		return d, "deadline"
	}
	return d, ""
}
