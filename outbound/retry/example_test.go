package retry_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
)

// A provider answers a 429 with Retry-After: 2. The retry waits those two
// seconds (longer than the first backoff step of 1–1.5 s) and the call
// succeeds on its second attempt. A fake clock makes the wait instant.
func ExampleNew() {
	clk := limitertest.NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	attempts := 0
	flaky := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		if attempts++; attempts == 1 {
			return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests,
				RetryAfter: 2 * time.Second}
		}
		return &provider.Response{Content: "Paris"}, nil
	})
	c := provider.Chain(flaky, retry.New(retry.WithClock(clk)))

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
