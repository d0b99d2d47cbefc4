package limiter_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/councilhq/council/internal/clock"
	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/deadline"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// stack is the outbound chain of the service against an Upstream, with a
// Recorder on the wire.
type stack struct {
	up        *limitertest.Upstream
	rec       *limitertest.Recorder
	completer provider.Completer
}

func newStack(t testing.TB, up *limitertest.Upstream, clk clock.Clock, retries ...retry.Option) *stack {
	t.Helper()
	tr := openrouter.NewTransport()
	t.Cleanup(tr.CloseIdleConnections)
	rec := &limitertest.Recorder{Base: tr, Now: clk.Now}
	client, err := openrouter.New(&http.Client{Transport: rec}, openrouter.Config{BaseURL: up.URL, APIKey: "sk-or-test"})
	if err != nil {
		t.Fatal(err)
	}
	retries = append([]retry.Option{retry.WithClock(clk)}, retries...)
	c := provider.Chain(client,
		retry.New(retries...),
		limiter.New(limiter.WithClock(clk)).Interceptor(),
		deadline.New(time.Minute))
	return &stack{up: up, rec: rec, completer: c}
}

// span is one call of a workload, in fake time.
type span struct {
	budget     string
	start, end time.Time
}

// workload runs calls as actors of a simulation and records their spans.
type workload struct {
	clk      *limitertest.Clock
	c        provider.Completer
	perModel bool
	mu       sync.Mutex
	spans    []span
	failed   int
}

func (w *workload) call(model, prompt string) {
	req := &provider.Request{Model: model, MaxTokens: 256, Messages: []provider.Message{{Role: provider.RoleUser, Content: prompt}}}
	start := w.clk.Now()
	_, err := w.c.Complete(context.Background(), req)
	s := span{start: start, end: w.clk.Now()}
	if w.perModel {
		s.budget = model
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spans = append(w.spans, s)
	if err != nil {
		w.failed++
	}
}

// consult runs the call pattern of one consultation: every council model
// answers in parallel, then every model ranks in parallel, then the
// chairman writes; done is closed at the end. The call that completes a
// stage starts the next one before it ends, so the clock never jumps while
// a stage is handed over.
func (w *workload) consult(id int, council []string, chairman string, done chan<- struct{}) {
	stage := func(models []string, prompt string, then func()) {
		var left atomic.Int32
		left.Store(int32(len(models)))
		for _, m := range models {
			w.clk.Go(func() {
				w.call(m, fmt.Sprintf("%s (consultation %d)", prompt, id))
				if left.Add(-1) == 0 {
					then()
				}
			})
		}
	}
	stage(council, "What limits the throughput of a rate-limited API?", func() {
		stage(council, "Rank Response A and Response B.", func() {
			stage([]string{chairman}, "Synthesize the final answer.", func() { close(done) })
		})
	})
}

// utilisation compares what the upstream admitted with what it could have
// admitted while calls were waiting: for each budget and window, the calls
// pending when the window opened (started, not yet answered), up to the
// limit, are what the window could serve.
func (w *workload) utilisation(admitted map[limitertest.Slot]int, limit int, window time.Duration) (served, servable int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	byBudget := map[string][]span{}
	for _, s := range w.spans {
		byBudget[s.budget] = append(byBudget[s.budget], s)
	}
	for b, spans := range byBudget {
		first, last := spans[0].start, spans[0].end
		for _, s := range spans {
			first, last = earlier(first, s.start), later(last, s.end)
		}
		for t := first.Truncate(window); !t.After(last); t = t.Add(window) {
			pending := 0
			for _, s := range spans {
				if !s.start.After(t) && !s.end.Before(t) {
					pending++
				}
			}
			want := min(pending, limit)
			servable += want
			served += min(admitted[limitertest.Slot{Budget: b, Start: t}], want)
		}
	}
	return served, servable
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// TestEndToEndRateLimits runs ten concurrent consultations of eight models
// against an upstream that enforces a request rate in each dialect:
// OpenRouter 20 requests per 500 ms shared by all models, OpenAI and
// Anthropic 4 per 500 ms for each model, and OpenAI and Anthropic again
// with 20 per 500 ms shared by all models while the headers speak of each
// model's (the limiter learns that scope). The calls go through the real
// OpenRouter client, Retry and Limiter, on a simulated clock shared with
// the upstream. Every consultation completes; after the client has seen
// its first 429, at most 1 % of its requests get one; and whenever calls
// were waiting, the upstream served at least 90 % of what its limit
// allowed. The backoff base is scaled to the short window (10 ms, as 1 s
// is to a minute).
func TestEndToEndRateLimits(t *testing.T) {
	t.Parallel()
	const (
		window = 500 * time.Millisecond
		models = 8
		count  = 10
	)
	type scenario struct {
		dialect  limitertest.Dialect
		perModel bool
	}
	scenarios := []scenario{
		{limitertest.OpenRouter, false},
		{limitertest.OpenAI, true},
		{limitertest.Anthropic, true},
		{limitertest.OpenAI, false},
		{limitertest.Anthropic, false},
	}
	for _, sc := range scenarios {
		d := sc.dialect
		name := d.String() + "/per_key"
		if sc.perModel {
			name = d.String() + "/per_model"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := limitertest.UpstreamConfig{Dialect: d, Limit: 20, Window: window, PerModel: sc.perModel}
			if cfg.PerModel {
				cfg.Limit = 4
			}
			clk := limitertest.NewClock(epoch)
			cfg.Now = clk.Now
			up := limitertest.NewUpstream(cfg)
			defer up.Close()
			st := newStack(t, up, clk, retry.WithBackoff(10*time.Millisecond, 0))
			var council []string
			for i := range models {
				council = append(council, fmt.Sprintf("vendor/model-%d", i))
			}
			w := &workload{clk: clk, c: st.completer, perModel: cfg.PerModel}
			var done []chan struct{}
			for i := range count {
				ch := make(chan struct{})
				done = append(done, ch)
				w.consult(i, council, "vendor/chairman", ch)
			}
			clk.Wait()
			for i, ch := range done {
				select {
				case <-ch:
				default:
					t.Fatalf("consultation %d did not complete", i)
				}
			}
			calls := count * (2*models + 1)
			stats, counts := up.Stats(), st.rec.Count(time.Time{})
			served, servable := w.utilisation(stats.Admitted, cfg.Limit, window)
			t.Logf("%s: %d calls in %v, %d requests, %d 429s (%d of %d after the first); served %d of %d servable",
				d, calls, clk.Now().Sub(epoch), counts.Sent, counts.Rejected, counts.RejectedAfter, counts.SentAfter, served, servable)
			if w.failed > 0 || len(w.spans) != calls || stats.Requests-stats.Rejected != calls {
				t.Errorf("%d of %d calls failed; upstream admitted %d requests", w.failed, len(w.spans), stats.Requests-stats.Rejected)
			}
			if counts.RejectedAfter*100 > counts.SentAfter {
				t.Errorf("%d of %d requests after the first 429 got a 429, want at most 1%%", counts.RejectedAfter, counts.SentAfter)
			}
			if served*10 < servable*9 {
				t.Errorf("served %d of %d servable requests, want at least 90%%", served, servable)
			}
		})
	}
}

// TestFailureStorm sends calls to an upstream where every call fails with
// 503: the retry budget and the cooldown keep the requests within 1.5× the
// calls.
func TestFailureStorm(t *testing.T) {
	t.Parallel()
	var requests atomic.Int64
	srv := newFailingServer(t, &requests)
	for _, tc := range []struct {
		name    string
		limiter bool
	}{{"retry alone", false}, {"retry and limiter", true}} {
		t.Run(tc.name, func(t *testing.T) {
			clk := limitertest.NewClock(epoch)
			requests.Store(0)
			client, err := openrouter.New(srv.Client(), openrouter.Config{BaseURL: srv.URL, APIKey: "sk-or-test"})
			if err != nil {
				t.Fatal(err)
			}
			ics := []provider.Interceptor{retry.New(retry.WithClock(clk))}
			if tc.limiter {
				ics = append(ics, limiter.New(limiter.WithClock(clk)).Interceptor())
			}
			c := provider.Chain(client, ics...)
			const calls = 400 // 100 per model: past the budget's floor of 10 retries
			var mu sync.Mutex
			kinds := map[provider.Kind]int{}
			for i := range calls {
				clk.Go(func() {
					_, err := c.Complete(context.Background(), request(fmt.Sprintf("m%d", i%4)))
					mu.Lock()
					kinds[provider.AsError(err).Kind]++
					mu.Unlock()
				})
			}
			clk.Wait()
			n := requests.Load()
			t.Logf("%d calls made %d requests; outcomes %v", calls, n, kinds)
			if kinds[provider.KindOverloaded]+kinds[provider.KindCooldown] != calls {
				t.Errorf("outcomes %v, want every call to fail as overloaded or cooling down", kinds)
			}
			if n*2 > calls*3 {
				t.Errorf("%d requests for %d calls, want at most 1.5×", n, calls)
			}
		})
	}
}

func newFailingServer(t *testing.T, requests *atomic.Int64) *httptestServer {
	t.Helper()
	return startServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, strings.TrimSpace(`{"error":{"code":503,"message":"No instances available","metadata":{"error_type":"provider_overloaded"}}}`))
	}))
}
