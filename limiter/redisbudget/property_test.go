package redisbudget_test

import (
	"context"
	"github.com/councilhq/council/internal/clock"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

// poll is how often a limiter asks its store again while it waits for
// another call's end.
const poll = 50 * time.Millisecond

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// For any rate-limit headers one replica sees, the requests every replica
// sends after it are timed by them, as one limiter's would be: none goes
// before a Retry-After, no more go before the announced reset than the
// announced remaining budget, those go at once, and the next one goes
// at the reset, when the budget is back (or within a poll of it). The budget lives in Redis
// (the Lua scripts); the replicas only share it.
func TestPropertySharedAdaptiveRateLimiting(t *testing.T) {
	rdb := client(t, redistest.Start(t))
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "replicas")
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
		h := make(http.Header)
		first := result{header: h}
		limited := &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests, Message: "rate limited"}
		switch dialect {
		case "openrouter":
			remaining = 0
			h.Set("X-RateLimit-Limit", strconv.Itoa(limit))
			h.Set("X-RateLimit-Remaining", "0")
			h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
			first = result{header: h, err: limited}
		case "openai":
			h.Set("x-ratelimit-limit-requests", strconv.Itoa(limit))
			h.Set("x-ratelimit-remaining-requests", strconv.Itoa(remaining))
			h.Set("x-ratelimit-reset-requests", offset.String())
		case "anthropic":
			h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
			h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
			h.Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339Nano))
		case "retry-after":
			remaining, reset = calls, epoch
			first = result{header: h, err: limited}
		}
		if retryAfter > 0 {
			h.Set("Retry-After", strconv.Itoa(int(retryAfter/time.Second)))
		}

		clk := limitertest.NewClock(epoch)
		up := &upstream{clk: clk, script: []result{first, {}}}
		ls, closeStores := replicas(t, rdb, n, clk, limiter.WithMaxInFlight(0))
		defer closeStores()
		chains := make([]provider.Completer, n)
		for i, l := range ls {
			chains[i] = provider.Chain(up, l.Interceptor())
		}
		clk.Go(func() { _, _ = chains[0].Complete(context.Background(), request("m")) })
		clk.Wait()
		run := func(i int) {
			if _, err := chains[i%n].Complete(context.Background(), request("m")); err != nil {
				t.Errorf("call: %v", err)
			}
		}
		if concurrent {
			for i := range calls {
				clk.Go(func() { run(i) })
			}
		} else {
			clk.Go(func() {
				for i := range calls {
					run(i)
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
			// A call that waited for another call's end asks the store
			// again within a poll, 50 ms.
			if at, want := times[remaining], later(reset, open); at.Before(want) || at.After(want.Add(poll)) {
				t.Fatalf("call %d went at +%v, want +%v (or up to a poll later) when the budget returned", remaining+1, at.Sub(epoch), want.Sub(epoch))
			}
		}
	})
}

// For any cap and any calls spread over any number of replicas, the calls
// in flight at the provider never number more than the cap, and every call
// completes.
func TestPropertyGlobalInFlightCap(t *testing.T) {
	rdb := client(t, redistest.Start(t))
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 3).Draw(t, "replicas")
		capacity := rapid.IntRange(1, 6).Draw(t, "cap")
		calls := rapid.IntRange(1, 20).Draw(t, "calls")
		hold := time.Duration(rapid.IntRange(1, 5).Draw(t, "hold ms")) * time.Millisecond

		// Real time: a call queued for its replica's own slot waits on
		// no clock, which a simulated one cannot see.
		clk := clock.System()
		up := &upstream{clk: clk, hold: hold, script: []result{{}}}
		ls, closeStores := replicas(t, rdb, n, clk, limiter.WithMaxInFlight(capacity))
		defer closeStores()
		var wg sync.WaitGroup
		for i := range calls {
			c := provider.Chain(up, ls[i%n].Interceptor())
			wg.Go(func() {
				if _, err := c.Complete(context.Background(), request("m")); err != nil {
					t.Errorf("call %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if got := len(up.times()); got != calls {
			t.Fatalf("%d calls reached the provider, want %d", got, calls)
		}
		if up.peak > capacity {
			t.Fatalf("%d calls in flight at once over %d replicas, cap %d", up.peak, n, capacity)
		}
	})
}
