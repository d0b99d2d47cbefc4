package limiter

import (
	"context"
	"errors"
	"time"

	"github.com/councilhq/council/provider"
)

// Retry returns an interceptor that retries a call whose failure is
// retryable ([provider.Error.Retryable]: 429 rate limits and transient 402
// in-flight budgets, 408, 5xx, overloads, connection errors, undecodable or
// empty answers not yet streamed). It never retries a bad request, an auth
// failure, an exhausted quota, credit or spend limit, a cooldown or
// rate-limit refusal of a [Limiter], or a call whose context is done.
//
// Retry n (0-based) waits 1 s·2ⁿ (see [WithBackoff]) plus a jitter of up to
// half of that: 1–1.5 s, 2–3 s, 4–6 s, 8–12 s …; a longer wait announced by
// the provider replaces it: a Retry-After (the headers, or
// [provider.Error.RetryAfter]) or the reset of a budget announced as spent.
// A failure is not retried when the wait would pass the context's
// deadline, when it asks for more than [DefaultMaxRetryAfter], after
// [WithMaxRetries] retries, or while the key's retry budget
// ([WithRetryBudget]) is spent. A rate-limit rejection that says when to
// come back is not a blind retry and does not spend the retry budget.
//
// The result carries Attempts, the number of attempts made, and a
// successful Response carries Waited, the time spent in backoff and in the
// waits of a [Limiter] inside. When an attempt is refused locally (cooldown
// or rate limit) after an earlier attempt reached the provider, the
// provider's error is returned, as it says more about the failure. Each
// retry, and each retryable failure that is not retried, is reported to the
// [Observer] ([EventRetry], [EventRetryStop]).
//
// Place it outside the [Limiter] interceptor, so that every attempt pays
// its share of the budget. It is safe for concurrent use.
func Retry(opts ...RetryOption) provider.Interceptor {
	cfg := defaultRetryConfig()
	for _, o := range opts {
		if o != nil {
			o.applyRetry(&cfg)
		}
	}
	th := newThrottle(cfg.budgetRatio, cfg.budgetFloor, cfg.budgetWindow, cfg.clock)
	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		key := cfg.key(req)
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
			if local(pe.Kind) && upstream != nil {
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
				cfg.observer.Observe(ctx, Event{Kind: EventRetryStop, Model: req.Model, Attempt: attempt, Delay: d, Reason: stop, Failure: pe.Kind})
				return nil, err
			}
			cfg.observer.Observe(ctx, Event{Kind: EventRetry, Model: req.Model, Attempt: attempt, Delay: d, Failure: pe.Kind})
			if sleep(ctx, cfg.clock, d) != nil {
				return nil, err
			}
			slept += d
		}
	}
}

// delay decides the wait before retrying a call whose attempt (1-based)
// failed with pe, or why there is no retry.
func (c *retryConfig) delay(ctx context.Context, th *throttle, key string, attempt int, pe *provider.Error) (time.Duration, string) {
	now := c.clock.Now()
	ra := announcedWait(pe, now)
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

// announcedWait returns how long a failure asks the client to
// wait: a Retry-After, or the reset of a budget announced as spent.
func announcedWait(pe *provider.Error, now time.Time) time.Duration {
	sig := signalOf(pe.RateLimits, pe.RetryAfter, now)
	at := sig.RetryAt
	for _, q := range append(sig.Quotas[:], sig.Shared) {
		if q.Announced && q.Remaining == 0 {
			at = later(at, q.Reset)
		}
	}
	return max(at.Sub(now), 0)
}

// local reports a refusal made by a Limiter rather than the provider.
func local(k provider.Kind) bool { return k == provider.KindCooldown || k == provider.KindLimited }
