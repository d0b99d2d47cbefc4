package limiter_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

func withRetryAfter(r result, d time.Duration) result {
	e := *r.err
	e.RetryAfter = d
	r.err = &e
	return r
}

func withHeader(r result, h http.Header) result {
	r.header = h
	return r
}

// gaps returns the time between consecutive calls.
func gaps(times []time.Time) []time.Duration {
	var out []time.Duration
	for i := 1; i < len(times); i++ {
		out = append(out, times[i].Sub(times[i-1]))
	}
	return out
}

func TestRetry(t *testing.T) {
	t.Parallel()
	rate := fail(provider.KindRateLimited, http.StatusTooManyRequests)
	tests := []struct {
		name     string
		script   []result
		opts     []limiter.RetryOption
		deadline time.Duration // from the fake clock's start; 0 for none
		attempts int
		wantErr  provider.Kind // KindUnknown for success
		gaps     [][2]time.Duration
	}{
		{name: "success", script: []result{ok(nil)}, attempts: 1},
		{name: "429 then success", script: []result{rate, ok(nil)}, attempts: 2, gaps: [][2]time.Duration{{time.Second, 1500 * time.Millisecond}}},
		{
			name:     "five retryable kinds then success",
			script:   []result{fail(provider.KindOverloaded, 503), fail(provider.KindTimeout, 408), fail(provider.KindUpstream, 500), fail(provider.KindNetwork, 0), ok(nil)},
			attempts: 5,
			gaps: [][2]time.Duration{
				{time.Second, 1500 * time.Millisecond}, {2 * time.Second, 3 * time.Second},
				{4 * time.Second, 6 * time.Second}, {8 * time.Second, 12 * time.Second},
			},
		},
		{
			name: "gives up after five retries", script: []result{rate}, attempts: 6, wantErr: provider.KindRateLimited,
			opts: []limiter.RetryOption{limiter.WithRetryBudget(0, 0, 0)},
		},
		{
			name: "the retry budget ends a storm first", script: []result{rate}, attempts: 3, wantErr: provider.KindRateLimited,
			opts: []limiter.RetryOption{limiter.WithRetryBudget(0.5, 2, time.Minute)},
		},
		{name: "larger retry-after wins", script: []result{withRetryAfter(rate, 5*time.Second), ok(nil)}, attempts: 2, gaps: [][2]time.Duration{{5 * time.Second, 5 * time.Second}}},
		{name: "retry-after header", script: []result{withHeader(rate, hdr("Retry-After", "3")), ok(nil)}, attempts: 2, gaps: [][2]time.Duration{{3 * time.Second, 3 * time.Second}}},
		{
			name: "an announced reset counts as a retry-after", attempts: 2,
			script: []result{withHeader(rate, hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s")), ok(nil)},
			gaps:   [][2]time.Duration{{3 * time.Second, 3 * time.Second}},
		},
		{name: "paced 429s do not spend the retry budget", script: []result{withRetryAfter(rate, time.Second)}, attempts: 6, wantErr: provider.KindRateLimited},
		{name: "smaller retry-after loses", script: []result{withRetryAfter(rate, 100*time.Millisecond), ok(nil)}, attempts: 2, gaps: [][2]time.Duration{{time.Second, 1500 * time.Millisecond}}},
		{name: "retry-after beyond the cap", script: []result{withRetryAfter(rate, 2*time.Minute), ok(nil)}, attempts: 1, wantErr: provider.KindRateLimited},
		{name: "400", script: []result{fail(provider.KindInvalidRequest, 400), ok(nil)}, attempts: 1, wantErr: provider.KindInvalidRequest},
		{name: "401", script: []result{fail(provider.KindAuth, 401), ok(nil)}, attempts: 1, wantErr: provider.KindAuth},
		{name: "402 credits", script: []result{fail(provider.KindQuota, 402), ok(nil)}, attempts: 1, wantErr: provider.KindQuota},
		{name: "403", script: []result{fail(provider.KindAuth, 403), ok(nil)}, attempts: 1, wantErr: provider.KindAuth},
		{name: "404", script: []result{fail(provider.KindInvalidRequest, 404), ok(nil)}, attempts: 1, wantErr: provider.KindInvalidRequest},
		{name: "429 spend limit", script: []result{fail(provider.KindQuota, 429), ok(nil)}, attempts: 1, wantErr: provider.KindQuota},
		{
			name: "streamed failure", attempts: 1, wantErr: provider.KindUpstream,
			script: []result{{err: &provider.Error{Kind: provider.KindUpstream, Streamed: true}}, ok(nil)},
		},
		{name: "local refusal", script: []result{fail(provider.KindCooldown, 0), ok(nil)}, attempts: 1, wantErr: provider.KindCooldown},
		{
			name: "local refusal after an upstream failure reports the upstream failure", attempts: 2, wantErr: provider.KindOverloaded,
			script: []result{fail(provider.KindOverloaded, 503), fail(provider.KindCooldown, 0), ok(nil)},
		},
		{
			name: "a wait past the deadline is not started", deadline: 10 * time.Second,
			script: []result{rate}, attempts: 4, wantErr: provider.KindRateLimited,
		},
		{name: "retries disabled", script: []result{rate, ok(nil)}, opts: []limiter.RetryOption{limiter.WithMaxRetries(0)}, attempts: 1, wantErr: provider.KindRateLimited},
		{
			name: "shorter backoff", script: []result{rate, rate, ok(nil)}, attempts: 3,
			opts: []limiter.RetryOption{limiter.WithBackoff(10*time.Millisecond, 15*time.Millisecond)},
			gaps: [][2]time.Duration{{10 * time.Millisecond, 15 * time.Millisecond}, {15 * time.Millisecond, 22500 * time.Microsecond}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			clk := limitertest.NewClock(start)
			up := &upstream{clk: clk, script: tc.script}
			opts := append([]limiter.RetryOption{limiter.WithClock(clk), limiter.WithJitterSource(rand.NewPCG(1, 2))}, tc.opts...)
			c := provider.Chain(up, limiter.Retry(opts...))
			ctx := context.Background()
			if tc.deadline > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, start.Add(tc.deadline))
				defer cancel()
			}
			var resp *provider.Response
			var err error
			clk.Go(func() { resp, err = c.Complete(ctx, request("m")) })
			clk.Wait()
			attempts := 0
			if tc.wantErr == provider.KindUnknown {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				attempts = resp.Attempts
			} else {
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != tc.wantErr {
					t.Fatalf("err = %v, want kind %v", err, tc.wantErr)
				}
				attempts = pe.Attempts
			}
			if attempts != tc.attempts || up.count() != tc.attempts {
				t.Errorf("reported %d attempts, made %d; want %d", attempts, up.count(), tc.attempts)
			}
			for i, g := range gaps(up.times()) {
				if i < len(tc.gaps) && (g < tc.gaps[i][0] || g > tc.gaps[i][1]) {
					t.Errorf("wait %d = %v, want within %v", i+1, g, tc.gaps[i])
				}
			}
			if resp != nil {
				var total time.Duration
				for _, g := range gaps(up.times()) {
					total += g
				}
				if resp.Waited != total {
					t.Errorf("Waited = %v, want %v", resp.Waited, total)
				}
			}
		})
	}
}

func TestRetryStopsWhenTheCallerLeaves(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	up := &upstream{clk: clk, script: []result{fail(provider.KindOverloaded, 503)}}
	c := provider.Chain(up, limiter.Retry(limiter.WithClock(clk)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Complete(ctx, request("m"))
		done <- err
	}()
	wctx, wcancel := context.WithTimeout(context.Background(), time.Minute)
	defer wcancel()
	if err := clk.BlockUntil(wctx, 1); err != nil {
		t.Fatal(err)
	}
	cancel()
	err := <-done
	if pe := provider.AsError(err); pe.Kind != provider.KindOverloaded || pe.Attempts != 1 {
		t.Errorf("err = %v after %d attempts, want the overload after 1", err, pe.Attempts)
	}
	if up.count() != 1 {
		t.Errorf("%d attempts, want 1", up.count())
	}
}

// Property 3: for any sequence of failures, the delays between attempts
// follow 1 s, 2 s, 4 s, 8 s … each within its jitter of up to half the
// step, a larger Retry-After replaces the step, and the retries stop at the
// first failure that is not retryable or after five retries.
func TestPropertyExponentialBackoff(t *testing.T) {
	t.Parallel()
	kinds := []provider.Kind{
		provider.KindRateLimited, provider.KindOverloaded, provider.KindUpstream, provider.KindTimeout,
		provider.KindNetwork, provider.KindInvalidRequest, provider.KindAuth, provider.KindQuota,
	}
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 8).Draw(t, "failures")
		script := make([]result, 0, n+1)
		for range n {
			r := fail(rapid.SampledFrom(kinds).Draw(t, "kind"), 0)
			if rapid.Bool().Draw(t, "has retry-after") {
				r = withRetryAfter(r, time.Duration(rapid.IntRange(0, 40000).Draw(t, "retry-after ms"))*time.Millisecond)
			}
			script = append(script, r)
		}
		script = append(script, ok(nil))
		clk := limitertest.NewClock(epoch)
		up := &upstream{clk: clk, script: script}
		c := provider.Chain(up, limiter.Retry(limiter.WithClock(clk), limiter.WithRetryBudget(0, 0, 0),
			limiter.WithJitterSource(rand.NewPCG(rapid.Uint64().Draw(t, "seed"), 0))))
		var resp *provider.Response
		var err error
		clk.Go(func() { resp, err = c.Complete(context.Background(), request("m")) })
		clk.Wait()

		want := 0 // attempts the retry policy allows
		for want < len(script) {
			want++
			r := script[want-1]
			if r.err == nil || !r.err.Retryable() || want == 6 {
				break
			}
		}
		if up.count() != want {
			t.Fatalf("%d attempts, want %d", up.count(), want)
		}
		attempts := 0
		if err != nil {
			attempts = provider.AsError(err).Attempts
		} else {
			attempts = resp.Attempts
		}
		if attempts != want {
			t.Fatalf("reported %d attempts, want %d", attempts, want)
		}
		for i, g := range gaps(up.times()) {
			step := time.Second << i
			lo, hi := step, step+step/2
			if ra := script[i].err.RetryAfter; ra > lo {
				lo, hi = ra, max(hi, ra)
			}
			if g < lo || g > hi {
				t.Fatalf("delay before retry %d = %v, want within [%v, %v]", i+1, g, lo, hi)
			}
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
		limiter.Retry(limiter.WithClock(clk), limiter.WithJitterSource(rand.NewPCG(1, 2))),
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
