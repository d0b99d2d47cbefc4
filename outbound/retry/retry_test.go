package retry_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// upstream is a scripted provider: each call takes the next result of the
// script (the last one repeats) and records when it arrived. The tests run
// in synctest bubbles, so time.Now is the bubble's fake time.
type upstream struct {
	mu     sync.Mutex
	script []result
	calls  []time.Time
}

// result is what a scripted upstream answers: a success with the rate
// limits it announced, or an error.
type result struct {
	limits provider.RateLimits
	err    *provider.Error
}

func ok() result { return result{} }

func fail(kind provider.Kind, status int) result {
	return result{err: &provider.Error{Kind: kind, StatusCode: status, Message: "upstream failed"}}
}

func (u *upstream) Complete(_ context.Context, req *provider.Request) (*provider.Response, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	r := u.script[min(len(u.calls), len(u.script)-1)]
	u.calls = append(u.calls, time.Now())
	if r.err != nil {
		e := *r.err
		return nil, &e
	}
	return &provider.Response{Model: req.Model, Content: "ok", RateLimits: r.limits}, nil
}

func (u *upstream) times() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.calls...)
}

func request() *provider.Request {
	return &provider.Request{Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "What is the capital of France?"}}}
}

func withRetryAfter(r result, d time.Duration) result {
	e := *r.err
	e.RetryAfter = d
	r.err = &e
	return r
}

func withLimits(r result, rl provider.RateLimits) result {
	e := *r.err
	e.RateLimits = rl
	r.err = &e
	return r
}

// spent is a requests budget announced as spent until d from the answer.
func spent(d time.Duration) provider.RateLimits {
	var rl provider.RateLimits
	rl.Quotas[provider.Requests] = provider.Quota{Announced: true, Limit: 5, Relative: true, ResetAfter: d}
	return rl
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
	rate := fail(provider.KindRateLimited, 429)
	tests := []struct {
		name     string
		script   []result
		opts     []retry.Option
		deadline time.Duration // from the fake clock's start; 0 for none
		attempts int
		wantErr  provider.Kind // KindUnknown for success
		gaps     [][2]time.Duration
	}{
		{name: "success", script: []result{ok()}, attempts: 1},
		{name: "429 then success", script: []result{rate, ok()}, attempts: 2, gaps: [][2]time.Duration{{time.Second, 1500 * time.Millisecond}}},
		{
			name:     "five retryable kinds then success",
			script:   []result{fail(provider.KindOverloaded, 503), fail(provider.KindTimeout, 408), fail(provider.KindUpstream, 500), fail(provider.KindNetwork, 0), ok()},
			attempts: 5,
			gaps: [][2]time.Duration{
				{time.Second, 1500 * time.Millisecond}, {2 * time.Second, 3 * time.Second},
				{4 * time.Second, 6 * time.Second}, {8 * time.Second, 12 * time.Second},
			},
		},
		{
			name: "gives up after five retries", script: []result{rate}, attempts: 6, wantErr: provider.KindRateLimited,
			opts: []retry.Option{retry.WithBudget(0, 0, 0)},
		},
		{
			name: "the retry budget ends a storm first", script: []result{rate}, attempts: 3, wantErr: provider.KindRateLimited,
			opts: []retry.Option{retry.WithBudget(0.5, 2, time.Minute)},
		},
		{name: "larger retry-after wins", script: []result{withRetryAfter(rate, 5*time.Second), ok()}, attempts: 2, gaps: [][2]time.Duration{{5 * time.Second, 5 * time.Second}}},
		{name: "retry-after header", script: []result{withLimits(rate, provider.RateLimits{RetryAfter: 3 * time.Second}), ok()}, attempts: 2, gaps: [][2]time.Duration{{3 * time.Second, 3 * time.Second}}},
		{
			name: "an announced reset counts as a retry-after", attempts: 2,
			script: []result{withLimits(rate, spent(3*time.Second)), ok()},
			gaps:   [][2]time.Duration{{3 * time.Second, 3 * time.Second}},
		},
		{name: "paced 429s do not spend the retry budget", script: []result{withRetryAfter(rate, time.Second)}, attempts: 6, wantErr: provider.KindRateLimited},
		{name: "smaller retry-after loses", script: []result{withRetryAfter(rate, 100*time.Millisecond), ok()}, attempts: 2, gaps: [][2]time.Duration{{time.Second, 1500 * time.Millisecond}}},
		{name: "retry-after beyond the cap", script: []result{withRetryAfter(rate, 2*time.Minute), ok()}, attempts: 1, wantErr: provider.KindRateLimited},
		{name: "400", script: []result{fail(provider.KindInvalidRequest, 400), ok()}, attempts: 1, wantErr: provider.KindInvalidRequest},
		{name: "401", script: []result{fail(provider.KindAuth, 401), ok()}, attempts: 1, wantErr: provider.KindAuth},
		{name: "402 credits", script: []result{fail(provider.KindQuota, 402), ok()}, attempts: 1, wantErr: provider.KindQuota},
		{name: "403", script: []result{fail(provider.KindAuth, 403), ok()}, attempts: 1, wantErr: provider.KindAuth},
		{name: "404", script: []result{fail(provider.KindInvalidRequest, 404), ok()}, attempts: 1, wantErr: provider.KindInvalidRequest},
		{name: "429 spend limit", script: []result{fail(provider.KindQuota, 429), ok()}, attempts: 1, wantErr: provider.KindQuota},
		{
			name: "streamed failure", attempts: 1, wantErr: provider.KindUpstream,
			script: []result{{err: &provider.Error{Kind: provider.KindUpstream, Streamed: true}}, ok()},
		},
		{name: "local refusal", script: []result{fail(provider.KindCooldown, 0), ok()}, attempts: 1, wantErr: provider.KindCooldown},
		{
			name: "local refusal after an upstream failure reports the upstream failure", attempts: 2, wantErr: provider.KindOverloaded,
			script: []result{fail(provider.KindOverloaded, 503), fail(provider.KindCooldown, 0), ok()},
		},
		{
			name: "a wait past the deadline is not started", deadline: 10 * time.Second,
			script: []result{rate}, attempts: 4, wantErr: provider.KindRateLimited,
		},
		{name: "retries disabled", script: []result{rate, ok()}, opts: []retry.Option{retry.WithMaxRetries(0)}, attempts: 1, wantErr: provider.KindRateLimited},
		{
			name: "shorter backoff", script: []result{rate, rate, ok()}, attempts: 3,
			opts: []retry.Option{retry.WithBackoff(10*time.Millisecond, 15*time.Millisecond)},
			gaps: [][2]time.Duration{{10 * time.Millisecond, 15 * time.Millisecond}, {15 * time.Millisecond, 22500 * time.Microsecond}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				start := time.Now()
				up := &upstream{script: tc.script}
				opts := append([]retry.Option{retry.WithJitterSource(rand.NewPCG(1, 2))}, tc.opts...)
				c := provider.Chain(up, retry.New(opts...))
				ctx := context.Background()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithDeadline(ctx, start.Add(tc.deadline))
					defer cancel()
				}
				resp, err := c.Complete(ctx, request())
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
				times := up.times()
				if attempts != tc.attempts || len(times) != tc.attempts {
					t.Errorf("reported %d attempts, made %d; want %d", attempts, len(times), tc.attempts)
				}
				for i, g := range gaps(times) {
					if i < len(tc.gaps) && (g < tc.gaps[i][0] || g > tc.gaps[i][1]) {
						t.Errorf("wait %d = %v, want within %v", i+1, g, tc.gaps[i])
					}
				}
				if resp != nil {
					if total := time.Since(start); resp.Waited != total {
						t.Errorf("Waited = %v, want %v", resp.Waited, total)
					}
				}
			})
		})
	}
}

func TestRetryStopsWhenTheCallerLeaves(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{script: []result{fail(provider.KindOverloaded, 503)}}
		c := provider.Chain(up, retry.New())
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.Complete(ctx, request())
			done <- err
		}()
		synctest.Wait() // the first attempt failed and its backoff began
		cancel()
		err := <-done
		if pe := provider.AsError(err); pe.Kind != provider.KindOverloaded || pe.Attempts != 1 {
			t.Errorf("err = %v after %d attempts, want the overload after 1", err, pe.Attempts)
		}
		if n := len(up.times()); n != 1 {
			t.Errorf("%d attempts, want 1", n)
		}
	})
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
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(0, 8).Draw(rt, "failures")
		script := make([]result, 0, n+1)
		for range n {
			r := fail(rapid.SampledFrom(kinds).Draw(rt, "kind"), 0)
			if rapid.Bool().Draw(rt, "has retry-after") {
				r = withRetryAfter(r, time.Duration(rapid.IntRange(0, 40000).Draw(rt, "retry-after ms"))*time.Millisecond)
			}
			script = append(script, r)
		}
		script = append(script, ok())
		seed := rapid.Uint64().Draw(rt, "seed")
		up := &upstream{script: script}
		var resp *provider.Response
		var err error
		synctest.Test(t, func(*testing.T) {
			c := provider.Chain(up, retry.New(retry.WithBudget(0, 0, 0), retry.WithJitterSource(rand.NewPCG(seed, 0))))
			resp, err = c.Complete(context.Background(), request())
		})

		want := 0 // attempts the retry policy allows
		for want < len(script) {
			want++
			r := script[want-1]
			if r.err == nil || !r.err.Retryable() || want == 6 {
				break
			}
		}
		times := up.times()
		if len(times) != want {
			rt.Fatalf("%d attempts, want %d", len(times), want)
		}
		attempts := 0
		if err != nil {
			attempts = provider.AsError(err).Attempts
		} else {
			attempts = resp.Attempts
		}
		if attempts != want {
			rt.Fatalf("reported %d attempts, want %d", attempts, want)
		}
		for i, g := range gaps(times) {
			step := time.Second << i
			lo, hi := step, step+step/2
			if ra := script[i].err.RetryAfter; ra > lo {
				lo, hi = ra, max(hi, ra)
			}
			if g < lo || g > hi {
				rt.Fatalf("delay before retry %d = %v, want within [%v, %v]", i+1, g, lo, hi)
			}
		}
	})
}
