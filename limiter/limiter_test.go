package limiter_test

import (
	"context"
	"errors"
	"github.com/councilhq/council/outbound/retry"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

// call runs one call through c as an actor of clk's simulation.
func call(clk *limitertest.Clock, c provider.Completer, req *provider.Request) (resp *provider.Response, err error) {
	clk.Go(func() { resp, err = c.Complete(context.Background(), req) })
	clk.Wait()
	return resp, err
}

// Property 6: with no limit in play, a call is not held back at all.
func TestNoLimitNoDelay(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	up := &upstream{clk: clk, script: []result{ok(nil)}}
	c := provider.Chain(up, retry.New(retry.WithClock(clk)), limiter.New(limiter.WithClock(clk)).Interceptor())
	for i := range 50 {
		resp, err := call(clk, c, request("m"+strconv.Itoa(i%4)))
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if resp.Waited != 0 || resp.Attempts != 1 {
			t.Fatalf("call %d: waited %v in %d attempts, want 0 in 1", i, resp.Waited, resp.Attempts)
		}
	}
	if got := clk.Now(); !got.Equal(epoch) {
		t.Errorf("fake time moved by %v", got.Sub(epoch))
	}
}

func TestWaitsForAnnouncedReset(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	h := hdr("x-ratelimit-limit-requests", "3", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "2s")
	up := &upstream{clk: clk, script: []result{ok(h), ok(nil)}}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk)).Interceptor())
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
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2*time.Second - time.Millisecond)
	if n := up.count(); n != 1 {
		t.Fatalf("%d calls sent before the reset, want 1", n)
	}
	clk.Advance(time.Millisecond)
	resp := <-done
	if got := up.times()[1]; !got.Equal(epoch.Add(2 * time.Second)) {
		t.Errorf("second call sent at +%v, want +2s", got.Sub(epoch))
	}
	if resp.Waited != 2*time.Second {
		t.Errorf("Waited = %v, want 2s", resp.Waited)
	}
}

func TestRateLimitWaitPastDeadlineIsRefused(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(time.Now())
	h := hdr("anthropic-ratelimit-requests-limit", "5", "anthropic-ratelimit-requests-remaining", "0",
		"anthropic-ratelimit-requests-reset", clk.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	up := &upstream{clk: clk, script: []result{ok(h), ok(nil)}}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk)).Interceptor())
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
	if n := up.count(); n != 1 {
		t.Errorf("%d calls sent, want 1", n)
	}
	// Another model has its own budget.
	if _, err := c.Complete(ctx, request("other")); err != nil {
		t.Errorf("other model: %v", err)
	}
}

func TestRetryAfterHoldsEveryCallOfTheKey(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	limited := fail(provider.KindRateLimited, http.StatusTooManyRequests)
	limited.header = hdr("Retry-After", "7")
	up := &upstream{clk: clk, script: []result{limited, ok(nil)}}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk)).Interceptor())
	if _, err := call(clk, c, request("m")); err == nil {
		t.Fatal("first call succeeded, want the 429")
	}
	for range 3 {
		clk.Go(func() {
			if _, err := c.Complete(context.Background(), request("m")); err != nil {
				t.Error(err)
			}
		})
	}
	clk.Wait()
	for i, at := range up.times()[1:] {
		if !at.Equal(epoch.Add(7 * time.Second)) {
			t.Errorf("call %d sent at +%v, want +7s", i+2, at.Sub(epoch))
		}
	}
}

func TestConcurrentCallsDoNotOverdraw(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	reset := strconv.FormatInt(epoch.Add(time.Second).UnixMilli(), 10)
	h := hdr("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "4", "X-RateLimit-Reset", reset)
	up := &upstream{clk: clk, script: []result{ok(h), ok(nil)}}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk)).Interceptor())
	if _, err := call(clk, c, request("m")); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		clk.Go(func() {
			if _, err := c.Complete(context.Background(), request("m")); err != nil {
				t.Error(err)
			}
		})
	}
	clk.Wait()
	var before, atReset int
	for _, at := range up.times()[1:] {
		switch {
		case at.Before(epoch.Add(time.Second)):
			before++
		case at.Equal(epoch.Add(time.Second)):
			atReset++
		}
	}
	if before != 4 || atReset != 16 {
		t.Errorf("%d calls before the reset and %d at it, want 4 and 16", before, atReset)
	}
}

func TestCooldown(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	down := fail(provider.KindOverloaded, http.StatusServiceUnavailable)
	up := &upstream{clk: clk, script: []result{down, down, down, ok(nil), down, ok(nil)}}
	lim := limiter.New(limiter.WithClock(clk), limiter.WithCooldown(limiter.CooldownRule{MinCalls: 3, FailureRatio: 1, Base: 10 * time.Second, Max: time.Minute}))
	c := provider.Chain(up, lim.Interceptor())
	ctx := context.Background()
	kind := func(err error) provider.Kind { return provider.AsError(err).Kind }
	for i := range 3 {
		if _, err := c.Complete(ctx, request("m")); kind(err) != provider.KindOverloaded {
			t.Fatalf("call %d: %v, want overloaded", i, err)
		}
	}
	_, err := c.Complete(ctx, request("m"))
	if pe := provider.AsError(err); pe.Kind != provider.KindCooldown || pe.RetryAfter != 10*time.Second {
		t.Fatalf("after 3 failures: %v (retry after %v), want a 10s cooldown", err, pe.RetryAfter)
	}
	if _, err := c.Complete(ctx, request("healthy")); err != nil {
		t.Fatalf("another model: %v", err)
	}
	if n := up.count(); n != 4 {
		t.Fatalf("%d calls reached the provider, want 4", n)
	}
	clk.Advance(10 * time.Second)
	// The probe fails: the cooldown doubles.
	if _, err := c.Complete(ctx, request("m")); kind(err) != provider.KindOverloaded {
		t.Fatalf("probe: %v, want overloaded", err)
	}
	clk.Advance(19 * time.Second)
	if _, err := c.Complete(ctx, request("m")); kind(err) != provider.KindCooldown {
		t.Fatalf("after a failed probe: %v, want cooldown", err)
	}
	clk.Advance(time.Second)
	if _, err := c.Complete(ctx, request("m")); err != nil {
		t.Fatalf("second probe: %v", err)
	}
	for i := range 3 {
		if _, err := c.Complete(ctx, request("m")); err != nil {
			t.Fatalf("call %d after recovery: %v", i, err)
		}
	}
}

func TestCooldownIgnoresFailuresThatSayNothingAboutTheModel(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	up := &upstream{clk: clk, script: []result{
		fail(provider.KindInvalidRequest, 400), fail(provider.KindQuota, 402),
		fail(provider.KindRateLimited, 429), fail(provider.KindAuth, 401), ok(nil),
	}}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk), limiter.WithCooldown(limiter.CooldownRule{MinCalls: 1})).Interceptor())
	for i := range 5 {
		_, err := c.Complete(context.Background(), request("m"))
		if err != nil && provider.AsError(err).Kind == provider.KindCooldown {
			t.Fatalf("call %d refused by a cooldown", i)
		}
	}
}

func TestInFlightCap(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	up := &upstream{clk: clk, script: []result{ok(nil)}, block: make(chan struct{})}
	c := provider.Chain(up, limiter.New(limiter.WithClock(clk), limiter.WithMaxInFlight(3)).Interceptor())
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if _, err := c.Complete(context.Background(), request("m"+strconv.Itoa(i))); err != nil {
				t.Error(err)
			}
		})
	}
	deadline := time.Now().Add(time.Minute)
	for up.count() < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(up.block)
	wg.Wait()
	if up.peak != 3 || up.count() != 12 {
		t.Errorf("peak %d in flight over %d calls, want 3 over 12", up.peak, up.count())
	}
}

func TestKeyFunc(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(time.Now())
	up := &upstream{clk: clk, script: []result{ok(hdr("Retry-After", "30")), ok(nil)}}
	lim := limiter.New(limiter.WithClock(clk), limiter.WithKey(limiter.ByProvider))
	c := provider.Chain(up, lim.Interceptor())
	if _, err := c.Complete(context.Background(), request("a")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Keyed by provider alone, model b shares a's Retry-After, which the
	// deadline cannot wait for…
	req := request("b")
	if _, err := c.Complete(ctx, req); provider.AsError(err).Kind != provider.KindLimited {
		t.Fatalf("model b: %v, want it held back by a's Retry-After", err)
	}
	// …while a request naming another provider key goes at once.
	req.Metadata = map[string]string{provider.MetaProviderKey: "second"}
	if _, err := c.Complete(ctx, req); err != nil {
		t.Fatalf("another provider key: %v", err)
	}
	if n := up.count(); n != 2 {
		t.Errorf("%d calls sent, want 2", n)
	}
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
	clk := limitertest.NewClock(epoch)
	spent := ok(hdr("x-ratelimit-limit-requests", "5", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s"))
	up := &upstream{clk: clk, script: []result{spent, fail(provider.KindOverloaded, http.StatusServiceUnavailable), ok(nil)}}
	c := provider.Chain(up,
		retry.New(retry.WithClock(clk), retry.WithJitterSource(rand.NewPCG(1, 2))),
		limiter.New(limiter.WithClock(clk)).Interceptor())
	if _, err := call(clk, c, request("m")); err != nil {
		t.Fatal(err)
	}
	resp, err := call(clk, c, request("m"))
	if err != nil {
		t.Fatal(err)
	}
	// 3 s for the spent budget before the 503, then at least the first
	// backoff step of 1 s.
	if resp.Attempts != 2 || resp.Waited < 4*time.Second {
		t.Errorf("%d attempts, waited %v; want 2 attempts and at least 4s", resp.Attempts, resp.Waited)
	}
}
