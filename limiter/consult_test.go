package limiter_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound/deadline"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// TestConsultationsUnderRateLimits runs ten concurrent consultations of the
// real orchestrator, in real time, through the service's outbound chain
// and the real OpenRouter client, against an upstream enforcing a rate in
// each dialect (windows of 500 ms: OpenRouter 20 requests shared by all
// models, OpenAI and Anthropic 4 per model). Every consultation completes
// and no model fails for a rate limit: the limiter and the retries absorb
// the limit. (The share of 429s and the throughput are asserted on the
// simulated clock, in TestEndToEndRateLimits, where they do not depend on
// how busy the machine is; here they are only logged.)
func TestConsultationsUnderRateLimits(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("takes a few seconds of real time")
	}
	const window = 500 * time.Millisecond
	for _, d := range limitertest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			cfg := limitertest.UpstreamConfig{Dialect: d, Limit: 20, Window: window, PerModel: d != limitertest.OpenRouter, Now: time.Now}
			if cfg.PerModel {
				cfg.Limit = 4
			}
			up := limitertest.NewUpstream(cfg)
			defer up.Close()
			tr := openrouter.NewTransport()
			defer tr.CloseIdleConnections()
			rec := &limitertest.Recorder{Base: tr}
			client, err := openrouter.New(&http.Client{Transport: rec}, openrouter.Config{BaseURL: up.URL, APIKey: "sk-or-test"})
			if err != nil {
				t.Fatal(err)
			}
			chain := provider.Chain(client,
				retry.New(retry.WithBackoff(10*time.Millisecond, 0)),
				limiter.New().Interceptor(),
				deadline.New(30*time.Second))
			var council []string
			for i := range 8 {
				council = append(council, fmt.Sprintf("vendor/model-%d", i))
			}
			c, err := orchestrator.New(chain, orchestrator.Config{
				Council:           council,
				Chairman:          "vendor/chairman",
				CollectTimeout:    time.Minute,
				ReviewTimeout:     time.Minute,
				SynthesizeTimeout: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var wg sync.WaitGroup
			var mu sync.Mutex
			failures := map[orchestrator.FailureReason]int{}
			attempts := 0
			for i := range 10 {
				wg.Go(func() {
					completed := false
					err := c.Consult(ctx, orchestrator.Request{Query: fmt.Sprintf("Question %d: how do rate limits work?", i)}, func(e orchestrator.Event) error {
						mu.Lock()
						defer mu.Unlock()
						switch p := e.Payload.(type) {
						case *orchestrator.ModelFailed:
							failures[p.Reason]++
						case *orchestrator.ModelAnswered:
							attempts += p.Attempts
						case *orchestrator.ConsultCompleted:
							completed = true
						}
						return nil
					})
					if err != nil || !completed {
						t.Errorf("consultation %d: %v (completed %v)", i, err, completed)
					}
				})
			}
			wg.Wait()
			counts := rec.Count(time.Time{})
			t.Logf("%s: %d requests, %d 429s (%d of %d after the first); %d attempts for 80 answers; failures %v",
				d, counts.Sent, counts.Rejected, counts.RejectedAfter, counts.SentAfter, attempts, failures)
			if n := failures[orchestrator.ReasonRateLimited] + failures[orchestrator.ReasonCooldown]; n > 0 {
				t.Errorf("%d model calls failed for a rate limit or cooldown", n)
			}
		})
	}
}
