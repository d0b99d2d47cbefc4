package limiter_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

// Property 7: for any rate-limit headers, the requests that follow are
// timed by them: no request goes before a Retry-After, no more go before
// the announced reset than the announced remaining budget, those go at
// once, and the next one goes exactly at the reset, when the budget is back.
func TestPropertyAdaptiveRateLimiting(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		dialect := rapid.SampledFrom([]string{"openrouter", "openai", "anthropic", "retry-after"}).Draw(rt, "dialect")
		limit := rapid.IntRange(1, 30).Draw(rt, "limit")
		remaining := rapid.IntRange(0, limit).Draw(rt, "remaining")
		offset := time.Duration(rapid.IntRange(1, 120_000).Draw(rt, "reset ms")) * time.Millisecond
		retryAfter := time.Duration(0)
		if dialect == "retry-after" || rapid.Bool().Draw(rt, "has retry-after") {
			retryAfter = time.Duration(rapid.IntRange(0, 90).Draw(rt, "retry-after s")) * time.Second
		}
		calls := rapid.IntRange(1, 40).Draw(rt, "calls")
		concurrent := rapid.Bool().Draw(rt, "concurrent")
		// What the headers allow: remaining calls at once (OpenRouter
		// announces only a spent budget; a bare Retry-After no budget at
		// all), the next at the reset, offset from the start.
		reset := offset
		switch dialect {
		case "openrouter":
			remaining = 0
		case "retry-after":
			remaining, reset = calls, 0
		}

		// In the bubble: the first call reads the headers, then the calls
		// go, concurrently or one after another; their times are kept as
		// offsets from the start, to be checked outside.
		var times []time.Duration
		var errs []error
		synctest.Test(t, func(*testing.T) {
			start := time.Now()
			resetAt := start.Add(offset)
			first := ok(nil)
			h := make(http.Header)
			switch dialect {
			case "openrouter":
				h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
				h.Set("X-RateLimit-Remaining", "0")
				h.Set("X-RateLimit-Reset", strconv.FormatInt(resetAt.UnixMilli(), 10))
				first = withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), h)
			case "openai":
				h.Set("x-ratelimit-limit-requests", strconv.Itoa(limit))
				h.Set("x-ratelimit-remaining-requests", strconv.Itoa(remaining))
				h.Set("x-ratelimit-reset-requests", offset.String())
				first = ok(h)
			case "anthropic":
				h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
				h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
				h.Set("anthropic-ratelimit-requests-reset", resetAt.Format(time.RFC3339Nano))
				first = ok(h)
			case "retry-after":
				first = withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), h)
			}
			if retryAfter > 0 {
				h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
			}

			up := &upstream{script: []result{first, ok(nil)}}
			c := provider.Chain(up, limiter.New(limiter.WithMaxInFlight(0)).Interceptor())
			_, _ = c.Complete(context.Background(), request("m"))
			var mu sync.Mutex
			run := func() {
				if _, err := c.Complete(context.Background(), request("m")); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
			if concurrent {
				var wg sync.WaitGroup
				for range calls {
					wg.Go(run)
				}
				wg.Wait()
			} else {
				for range calls {
					run()
				}
			}
			for _, at := range up.times()[1:] {
				times = append(times, at.Sub(start))
			}
		})

		if len(errs) > 0 {
			rt.Fatalf("%d calls failed: %v", len(errs), errs[0])
		}
		if len(times) != calls {
			rt.Fatalf("%d calls reached the provider, want %d", len(times), calls)
		}
		slices.Sort(times)
		open := retryAfter
		if times[0] < open {
			rt.Fatalf("a call went at +%v, before the Retry-After of %v", times[0], retryAfter)
		}
		early := 0
		for _, at := range times {
			if at < reset {
				early++
			}
		}
		if early > remaining {
			rt.Fatalf("%d calls before the reset at +%v, only %d remaining", early, reset, remaining)
		}
		for i, at := range times[:min(remaining, calls)] {
			if at != open {
				rt.Fatalf("call %d went at +%v, want +%v: the budget allowed it", i+1, at, open)
			}
		}
		if calls > remaining {
			if at, want := times[remaining], max(reset, open); at != want {
				rt.Fatalf("call %d went at +%v, want +%v when the budget returned", remaining+1, at, want)
			}
		}
	})
}
