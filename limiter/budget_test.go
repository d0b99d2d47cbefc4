package limiter_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

// Property 7: for any rate-limit headers, the requests that follow are
// timed by them: no request goes before a Retry-After, no more go before
// the announced reset than the announced remaining budget, those go at
// once, and the next one goes exactly at the reset, when the budget is back.
func TestPropertyAdaptiveRateLimiting(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		dialect := rapid.SampledFrom([]string{"openrouter", "openai", "anthropic", "retry-after"}).Draw(t, "dialect")
		limit := rapid.IntRange(1, 30).Draw(t, "limit")
		remaining := rapid.IntRange(0, limit).Draw(t, "remaining")
		offset := time.Duration(rapid.IntRange(1, 120_000).Draw(t, "reset ms")) * time.Millisecond
		retryAfter := time.Duration(0)
		if dialect == "retry-after" || rapid.Bool().Draw(t, "has retry-after") {
			retryAfter = time.Duration(rapid.IntRange(0, 90).Draw(t, "retry-after s")) * time.Second
		}
		calls := rapid.IntRange(1, 40).Draw(t, "calls")
		concurrent := rapid.Bool().Draw(t, "concurrent")

		reset := epoch.Add(offset)
		first := ok(nil)
		h := make(http.Header)
		switch dialect {
		case "openrouter":
			remaining = 0
			h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
			first = withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), h)
		case "openai":
			h.Set("x-ratelimit-limit-requests", strconv.Itoa(limit))
			h.Set("x-ratelimit-remaining-requests", strconv.Itoa(remaining))
			h.Set("x-ratelimit-reset-requests", offset.String())
			first = ok(h)
		case "anthropic":
			h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
			h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
			h.Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339Nano))
			first = ok(h)
		case "retry-after":
			remaining, reset = calls, epoch
			first = withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), h)
		}
		if retryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
		}

		clk := limitertest.NewClock(epoch)
		up := &upstream{clk: clk, script: []result{first, ok(nil)}}
		c := provider.Chain(up, limiter.New(limiter.WithClock(clk), limiter.WithMaxInFlight(0)).Interceptor())
		clk.Go(func() { _, _ = c.Complete(context.Background(), request("m")) })
		clk.Wait()
		run := func() {
			if _, err := c.Complete(context.Background(), request("m")); err != nil {
				t.Errorf("call: %v", err)
			}
		}
		if concurrent {
			for range calls {
				clk.Go(run)
			}
		} else {
			clk.Go(func() {
				for range calls {
					run()
				}
			})
		}
		clk.Wait()

		times := up.times()[1:]
		slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
		open := later(epoch, epoch.Add(retryAfter))
		if times[0].Before(open) {
			t.Fatalf("a call went at +%v, before the Retry-After of %v", times[0].Sub(epoch), retryAfter)
		}
		early := 0
		for _, at := range times {
			if at.Before(reset) {
				early++
			}
		}
		if early > remaining {
			t.Fatalf("%d calls before the reset at +%v, only %d remaining", early, offset, remaining)
		}
		for i, at := range times[:min(remaining, calls)] {
			if !at.Equal(open) {
				t.Fatalf("call %d went at +%v, want +%v: the budget allowed it", i+1, at.Sub(epoch), open.Sub(epoch))
			}
		}
		if calls > remaining {
			if at, want := times[remaining], later(reset, open); !at.Equal(want) {
				t.Fatalf("call %d went at +%v, want +%v when the budget returned", remaining+1, at.Sub(epoch), want.Sub(epoch))
			}
		}
	})
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
