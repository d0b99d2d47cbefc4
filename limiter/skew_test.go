package limiter_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// skewedProvider admits limit requests per fixed window of its own clock,
// which is offset from the client's, and answers the rest with OpenRouter's
// 429: X-RateLimit-* with the reset as epoch milliseconds of its clock.
// Every answer carries its clock in the Date header. It records requests
// that arrived before a reset it had announced, at a later instant than the
// announcement (with answers taking no time, requests sent at the same
// instant were on their way before the client could know). The tests run
// it in synctest bubbles, so time.Now is the bubble's fake time.
type skewedProvider struct {
	offset        time.Duration
	limit         int
	window        time.Duration
	mu            sync.Mutex
	admitted      map[time.Time]int
	announced     time.Time // the latest reset announced on a 429
	announcedAt   time.Time // when it was announced, by the client's clock
	early, served int
}

func (p *skewedProvider) Complete(_ context.Context, _ *provider.Request) (*provider.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	local := time.Now()
	now := local.Add(p.offset)
	if now.Before(p.announced) && local.After(p.announcedAt) {
		p.early++
	}
	h := http.Header{"Date": {now.UTC().Format(http.TimeFormat)}}
	start := now.Truncate(p.window)
	if p.admitted[start] < p.limit {
		p.admitted[start]++
		p.served++
		return &provider.Response{Content: "ok", RateLimits: openrouter.ParseRateLimits(h, local)}, nil
	}
	reset := start.Add(p.window)
	p.announced, p.announcedAt = reset, local
	h.Set("X-RateLimit-Limit", strconv.Itoa(p.limit))
	h.Set("X-RateLimit-Remaining", "0")
	h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
	return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests, RateLimits: openrouter.ParseRateLimits(h, local), Message: "upstream returned 429"}
}

// TestPropertySkewNoRequestBeforeTheReset checks, for Property 7: Adaptive
// rate limiting, that whatever the provider's clock offset within ±30 s,
// once it has announced a reset no request reaches it before that reset by
// its own clock: the limiter corrects epoch resets by the offset it learns
// from the Date header.
func TestPropertySkewNoRequestBeforeTheReset(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		start := time.Duration(rapid.Int64Range(0, int64(time.Hour)).Draw(rt, "start"))
		p := &skewedProvider{
			offset:   time.Duration(rapid.Int64Range(-30000, 30000).Draw(rt, "offset ms")) * time.Millisecond,
			limit:    rapid.IntRange(1, 5).Draw(rt, "limit"),
			window:   time.Duration(rapid.IntRange(1, 5).Draw(rt, "window s")) * time.Second,
			admitted: map[time.Time]int{},
		}
		calls := rapid.IntRange(5, 40).Draw(rt, "calls")
		callers := rapid.IntRange(1, 3).Draw(rt, "callers")
		synctest.Test(t, func(*testing.T) {
			time.Sleep(start)
			c := provider.Chain(p, limiter.New().Interceptor())
			var wg sync.WaitGroup
			for range callers {
				wg.Go(func() {
					for range calls {
						_, _ = c.Complete(context.Background(), request("m"))
					}
				})
			}
			wg.Wait()
		})
		if p.early > 0 {
			rt.Fatalf("%d requests reached the provider before the reset it announced (offset %v)", p.early, p.offset)
		}
		if p.served == 0 {
			rt.Fatalf("no request served")
		}
	})
}
