package limiter_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
)

// The tests run in synctest bubbles with the limiter's default clock: once
// every goroutine of the bubble is blocked, fake time jumps to the earliest
// timer, so each wait lasts exactly what it asks for, in no real time.

// Property 6: with no limit in play, a call is not held back at all.
func TestNoLimitNoDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		up := &upstream{script: []result{ok(nil)}}
		c := provider.Chain(up, retry.New(), limiter.New().Interceptor())
		for i := range 50 {
			resp, err := c.Complete(context.Background(), request("m"+strconv.Itoa(i%4)))
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if resp.Waited != 0 || resp.Attempts != 1 {
				t.Fatalf("call %d: waited %v in %d attempts, want 0 in 1", i, resp.Waited, resp.Attempts)
			}
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("fake time moved by %v", d)
		}
	})
}

func TestWaitsForAnnouncedReset(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h := hdr("x-ratelimit-limit-requests", "3", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "2s")
		up := &upstream{script: []result{ok(h), ok(nil)}}
		c := provider.Chain(up, limiter.New().Interceptor())
		if _, err := c.Complete(context.Background(), request("m")); err != nil {
			t.Fatal(err)
		}
		done := make(chan *provider.Response, 1)
		go func() {
			resp, err := c.Complete(context.Background(), request("m"))
			if err != nil {
				t.Error(err)
			}
			done <- resp
		}()
		time.Sleep(2*time.Second - time.Millisecond)
		synctest.Wait()
		if n := up.count(); n != 1 {
			t.Fatalf("%d calls sent before the reset, want 1", n)
		}
		time.Sleep(time.Millisecond)
		resp := <-done
		if got := up.times()[1]; !got.Equal(start.Add(2 * time.Second)) {
			t.Errorf("second call sent at +%v, want +2s", got.Sub(start))
		}
		if resp.Waited != 2*time.Second {
			t.Errorf("Waited = %v, want 2s", resp.Waited)
		}
	})
}

func TestRateLimitWaitPastDeadlineIsRefused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		h := hdr("anthropic-ratelimit-requests-limit", "5", "anthropic-ratelimit-requests-remaining", "0",
			"anthropic-ratelimit-requests-reset", start.Add(time.Hour).UTC().Format(time.RFC3339))
		up := &upstream{script: []result{ok(h), ok(nil)}}
		c := provider.Chain(up, limiter.New().Interceptor())
		if _, err := c.Complete(context.Background(), request("m")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		_, err := c.Complete(ctx, request("m"))
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindLimited {
			t.Fatalf("err = %v, want a %v error", err, provider.KindLimited)
		}
		if pe.Retryable() || pe.RetryAfter < 59*time.Minute {
			t.Errorf("retryable %v, RetryAfter %v; want not retryable, about an hour", pe.Retryable(), pe.RetryAfter)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("refused after waiting %v, want at once", d)
		}
		if n := up.count(); n != 1 {
			t.Errorf("%d calls sent, want 1", n)
		}
		// Another model has its own budget.
		if _, err := c.Complete(ctx, request("other")); err != nil {
			t.Errorf("other model: %v", err)
		}
	})
}

func TestRetryAfterHoldsEveryCallOfTheKey(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		limited := fail(provider.KindRateLimited, http.StatusTooManyRequests)
		limited.header = hdr("Retry-After", "7")
		up := &upstream{script: []result{limited, ok(nil)}}
		c := provider.Chain(up, limiter.New().Interceptor())
		if _, err := c.Complete(context.Background(), request("m")); err == nil {
			t.Fatal("first call succeeded, want the 429")
		}
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if _, err := c.Complete(context.Background(), request("m")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		times := up.times()
		if len(times) != 4 {
			t.Fatalf("%d calls sent, want 4", len(times))
		}
		for i, at := range times[1:] {
			if !at.Equal(start.Add(7 * time.Second)) {
				t.Errorf("call %d sent at +%v, want +7s", i+2, at.Sub(start))
			}
		}
	})
}

func TestConcurrentCallsDoNotOverdraw(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		reset := strconv.FormatInt(start.Add(time.Second).UnixMilli(), 10)
		h := hdr("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "4", "X-RateLimit-Reset", reset)
		up := &upstream{script: []result{ok(h), ok(nil)}}
		c := provider.Chain(up, limiter.New().Interceptor())
		if _, err := c.Complete(context.Background(), request("m")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := c.Complete(context.Background(), request("m")); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var before, atReset int
		for _, at := range up.times()[1:] {
			switch {
			case at.Before(start.Add(time.Second)):
				before++
			case at.Equal(start.Add(time.Second)):
				atReset++
			}
		}
		if before != 4 || atReset != 16 {
			t.Errorf("%d calls before the reset and %d at it, want 4 and 16", before, atReset)
		}
	})
}

func TestCooldown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		down := fail(provider.KindOverloaded, http.StatusServiceUnavailable)
		up := &upstream{script: []result{down, down, down, ok(nil), down, ok(nil)}}
		lim := limiter.New(limiter.WithCooldown(limiter.CooldownRule{MinCalls: 3, FailureRatio: 1, Base: 10 * time.Second, Max: time.Minute}))
		c := provider.Chain(up, lim.Interceptor())
		ctx := context.Background()
		for i := range 3 {
			if _, err := c.Complete(ctx, request("m")); kindOf(err) != provider.KindOverloaded {
				t.Fatalf("call %d: %v, want overloaded", i, err)
			}
		}
		_, err := c.Complete(ctx, request("m"))
		var pe *provider.Error
		if !errors.As(err, &pe) || pe.Kind != provider.KindCooldown || pe.RetryAfter != 10*time.Second {
			t.Fatalf("after 3 failures: %v, want a 10s cooldown", err)
		}
		if _, err := c.Complete(ctx, request("healthy")); err != nil {
			t.Fatalf("another model: %v", err)
		}
		if n := up.count(); n != 4 {
			t.Fatalf("%d calls reached the provider, want 4", n)
		}
		time.Sleep(10 * time.Second)
		// The probe fails: the cooldown doubles.
		if _, err := c.Complete(ctx, request("m")); kindOf(err) != provider.KindOverloaded {
			t.Fatalf("probe: %v, want overloaded", err)
		}
		time.Sleep(19 * time.Second)
		if _, err := c.Complete(ctx, request("m")); kindOf(err) != provider.KindCooldown {
			t.Fatalf("after a failed probe: %v, want cooldown", err)
		}
		time.Sleep(time.Second)
		if _, err := c.Complete(ctx, request("m")); err != nil {
			t.Fatalf("second probe: %v", err)
		}
		for i := range 3 {
			if _, err := c.Complete(ctx, request("m")); err != nil {
				t.Fatalf("call %d after recovery: %v", i, err)
			}
		}
	})
}

func TestCooldownIgnoresFailuresThatSayNothingAboutTheModel(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{script: []result{
			fail(provider.KindInvalidRequest, 400), fail(provider.KindQuota, 402),
			fail(provider.KindRateLimited, 429), fail(provider.KindAuth, 401), ok(nil),
		}}
		c := provider.Chain(up, limiter.New(limiter.WithCooldown(limiter.CooldownRule{MinCalls: 1})).Interceptor())
		for i := range 5 {
			_, err := c.Complete(context.Background(), request("m"))
			if kindOf(err) == provider.KindCooldown {
				t.Fatalf("call %d refused by a cooldown", i)
			}
		}
	})
}

// TestInFlightCap starts twelve calls, to twelve models, under a cap of
// three: once every call is blocked, exactly three have reached the
// provider, and when those end the others follow, never more than three at
// a time.
func TestInFlightCap(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{script: []result{ok(nil)}, block: make(chan struct{})}
		c := provider.Chain(up, limiter.New(limiter.WithMaxInFlight(3)).Interceptor())
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Go(func() {
				if _, err := c.Complete(context.Background(), request("m"+strconv.Itoa(i))); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait()
		if n := up.count(); n != 3 {
			t.Errorf("%d calls in flight under a cap of 3", n)
		}
		close(up.block)
		wg.Wait()
		if up.peak != 3 || up.count() != 12 {
			t.Errorf("peak %d in flight over %d calls, want 3 over 12", up.peak, up.count())
		}
	})
}

func TestKeyFunc(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		up := &upstream{script: []result{ok(hdr("Retry-After", "30")), ok(nil)}}
		lim := limiter.New(limiter.WithKey(limiter.ByProvider))
		c := provider.Chain(up, lim.Interceptor())
		if _, err := c.Complete(context.Background(), request("a")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// Keyed by provider alone, model b shares a's Retry-After, which the
		// deadline cannot wait for…
		req := request("b")
		if _, err := c.Complete(ctx, req); kindOf(err) != provider.KindLimited {
			t.Fatalf("model b: %v, want it held back by a's Retry-After", err)
		}
		// …while a request naming another provider key goes at once.
		req.Metadata = map[string]string{provider.MetaProviderKey: "second"}
		if _, err := c.Complete(ctx, req); err != nil {
			t.Fatalf("another provider key: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("fake time moved by %v, want no wait", d)
		}
		if n := up.count(); n != 2 {
			t.Errorf("%d calls sent, want 2", n)
		}
	})
}

// TestInFlightQueueIsFirstComeFirstServed queues 1000 calls behind an
// in-flight cap of one and ends the calls in flight one at a time: each
// end admits exactly one waiting call, the one that arrived first, while
// every other stays blocked.
func TestInFlightQueueIsFirstComeFirstServed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const waiters = 1000
		release, stop := make(chan struct{}), make(chan struct{})
		defer func() { close(stop); synctest.Wait() }() // on failure, let every call end
		var mu sync.Mutex
		var admitted []int
		next := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
			mu.Lock()
			admitted = append(admitted, req.MaxTokens)
			mu.Unlock()
			select {
			case <-release:
			case <-stop:
			}
			return &provider.Response{Content: "ok"}, nil
		})
		c := provider.Chain(next, limiter.New(limiter.WithMaxInFlight(1)).Interceptor())
		call := func(id int) {
			if _, err := c.Complete(context.Background(), &provider.Request{Model: "m", MaxTokens: id}); err != nil {
				t.Errorf("call %d: %v", id, err)
			}
		}
		// Call 0 holds the slot; calls 1…1000 queue in this order, each
		// started once the one before it is blocked.
		for id := range waiters + 1 {
			go call(id)
			synctest.Wait()
		}
		for done := range waiters + 1 {
			mu.Lock()
			got := slices.Clone(admitted)
			mu.Unlock()
			if len(got) != done+1 {
				t.Fatalf("after %d calls ended, %d were admitted; want %d", done, len(got), done+1)
			}
			if got[done] != done {
				t.Fatalf("admitted %d in the place of %d: %v", got[done], done, got[max(0, done-5):])
			}
			release <- struct{}{} // end the call in flight
			synctest.Wait()
		}
	})
}

// The wait before an attempt that then fails counts too: Waited holds the
// budget wait of the failed attempt, the backoff and the last attempt's.
func TestWaitedCountsFailedAttempts(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		spent := ok(hdr("x-ratelimit-limit-requests", "5", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s"))
		up := &upstream{script: []result{spent, fail(provider.KindOverloaded, http.StatusServiceUnavailable), ok(nil)}}
		c := provider.Chain(up,
			retry.New(retry.WithJitterSource(rand.NewPCG(1, 2))),
			limiter.New().Interceptor())
		if _, err := c.Complete(context.Background(), request("m")); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		resp, err := c.Complete(context.Background(), request("m"))
		if err != nil {
			t.Fatal(err)
		}
		// 3 s for the spent budget before the 503, then at least the first
		// backoff step of 1 s; nothing else took fake time.
		if resp.Attempts != 2 || resp.Waited < 4*time.Second || resp.Waited != time.Since(start) {
			t.Errorf("%d attempts, waited %v in %v; want 2 attempts and at least 4s, all of the call's time", resp.Attempts, resp.Waited, time.Since(start))
		}
	})
}
