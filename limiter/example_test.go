package limiter_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// The outbound chain of the service, outermost first: retries outside the
// limiter, so that every attempt pays its share of the provider's budget,
// and the limiter outside the per-attempt timeout, so that waiting does not
// eat into an attempt's time. (The telemetry interceptor goes first.)
func Example() {
	client, err := openrouter.New(&http.Client{Transport: openrouter.NewTransport()},
		openrouter.Config{APIKey: "sk-or-..."})
	if err != nil {
		panic(err)
	}
	lim := limiter.New() // one per process: it holds the budgets
	completer := provider.Chain(client,
		limiter.Retry(),
		lim.Interceptor(),
		provider.Timeout(30*time.Second),
	)
	_ = completer
}

// A provider answers a 429 with Retry-After: 2. The retry waits those two
// seconds (longer than the first backoff step of 1–1.5 s) and the call
// succeeds on its second attempt. A fake clock makes the wait instant.
func ExampleRetry() {
	clk := limitertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	attempts := 0
	flaky := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		if attempts++; attempts == 1 {
			return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests,
				RetryAfter: 2 * time.Second}
		}
		return &provider.Response{Content: "Paris"}, nil
	})
	c := provider.Chain(flaky, limiter.Retry(limiter.WithClock(clk)), limiter.New(limiter.WithClock(clk)).Interceptor())

	var resp *provider.Response
	clk.Go(func() {
		resp, _ = c.Complete(context.Background(), &provider.Request{
			Model:    "openai/gpt-4o-mini",
			Messages: []provider.Message{{Role: provider.RoleUser, Content: "Capital of France?"}},
		})
	})
	clk.Wait()
	fmt.Println(resp.Content, resp.Attempts, resp.Waited)
	// Output: Paris 2 2s
}
