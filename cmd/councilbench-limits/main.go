// Command councilbench-limits measures how the outbound chain (Retry and
// Limiter over the OpenRouter client) uses a provider's rate limit. For
// each dialect it starts an upstream that admits a number of requests per
// fixed window (limitertest.Upstream), sends it a batch of calls from
// concurrent workers, in real time, and prints the requests sent, the
// 429s, the achieved rate against the allowed rate, and the wall time
// against the floor the limit imposes. Each dialect runs with the scope it
// announces (OpenRouter's budget per key, OpenAI's and Anthropic's per
// model); OpenAI and Anthropic run again with one budget per key, as many
// OpenAI-compatible proxies enforce while announcing per-model headers;
// OpenRouter runs again with the upstream's clock -skew off the client's.
// A last run without any limit shows the time the chain held calls back
// when nothing limits them.
//
// Usage:
//
//	councilbench-limits [-calls 200] [-limit 20] [-window 1s] [-models 4] [-workers 32] [-skew -2s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		slog.Error("councilbench-limits", "error", err)
		os.Exit(1)
	}
}

// settings are the command's flags.
type settings struct {
	calls, limit, models, workers int
	window, skew                  time.Duration
}

// scenario is one run: a dialect, the scope the upstream enforces and its
// clock's offset from the client's.
type scenario struct {
	dialect  limitertest.Dialect
	perModel bool
	skew     time.Duration
}

// name labels a scenario's row.
func (sc scenario) name() string {
	if sc.skew != 0 {
		return fmt.Sprintf("%s, clock %+v", sc.dialect, sc.skew)
	}
	return sc.dialect.String()
}

func run(args []string, out io.Writer) error {
	var s settings
	fs := flag.NewFlagSet("councilbench-limits", flag.ContinueOnError)
	fs.IntVar(&s.calls, "calls", 200, "calls per dialect")
	fs.IntVar(&s.limit, "limit", 20, "requests admitted per window (per model for OpenAI and Anthropic)")
	fs.DurationVar(&s.window, "window", time.Second, "length of the upstream's fixed windows")
	fs.IntVar(&s.models, "models", 4, "models the calls are spread over")
	fs.IntVar(&s.workers, "workers", 32, "concurrent callers")
	fs.DurationVar(&s.skew, "skew", -2*time.Second, "the upstream clock's offset from the client's in the clock-skew run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s.calls < 1 || s.limit < 1 || s.models < 1 || s.workers < 1 || s.window <= 0 {
		return errors.New("calls, limit, models, workers and window must be positive")
	}
	fmt.Fprintf(out, "%d calls over %d models from %d workers; limit %d per %v\n\n", s.calls, s.models, s.workers, s.limit, s.window)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "dialect\tbudget\tfailed\trequests\t429s\t429s after the first\trate /s\tallowed /s\trate %\twall\tfloor\twall/floor\tmean hold\t")
	runs := []scenario{
		{dialect: limitertest.OpenRouter},
		{dialect: limitertest.OpenAI, perModel: true},
		{dialect: limitertest.Anthropic, perModel: true},
		{dialect: limitertest.OpenAI},
		{dialect: limitertest.Anthropic},
		{dialect: limitertest.OpenRouter, skew: s.skew},
	}
	for _, sc := range runs {
		r, err := measure(s, sc, s.limit)
		if err != nil {
			return fmt.Errorf("%s: %w", sc.name(), err)
		}
		r.print(tw, sc.name())
	}
	r, err := measure(s, scenario{dialect: limitertest.OpenAI, perModel: true}, unlimited)
	if err != nil {
		return fmt.Errorf("unlimited: %w", err)
	}
	r.print(tw, "unlimited")
	return tw.Flush()
}

// unlimited is a limit no run reaches.
const unlimited = 1 << 30

// result is the measure of one run.
type result struct {
	s        settings
	perModel bool
	limit    int
	counts   limitertest.Counts
	stats    limitertest.Stats
	failed   int
	wall     time.Duration
	held     time.Duration
}

// measure sends s.calls calls through the chain to an upstream of the
// scenario admitting limit requests per window.
func measure(s settings, sc scenario, limit int) (result, error) {
	res := result{s: s, perModel: sc.perModel, limit: limit}
	now := time.Now
	if sc.skew != 0 {
		now = func() time.Time { return time.Now().Add(sc.skew) }
	}
	up := limitertest.NewUpstream(limitertest.UpstreamConfig{Dialect: sc.dialect, Limit: limit, Window: s.window, PerModel: sc.perModel, Now: now})
	defer up.Close()
	tr := openrouter.NewTransport()
	defer tr.CloseIdleConnections()
	rec := &limitertest.Recorder{Base: tr}
	client, err := openrouter.New(&http.Client{Transport: rec}, openrouter.Config{BaseURL: up.URL, APIKey: "sk-or-bench"})
	if err != nil {
		return res, err
	}
	chain := provider.Chain(client, retry.New(), limiter.New(limiter.WithMaxInFlight(s.workers)).Interceptor())

	// Start on a window boundary, so that the floor is exact.
	time.Sleep(time.Until(time.Now().Truncate(s.window).Add(s.window)))
	start := time.Now()
	var next, failed atomic.Int64
	var held atomic.Int64
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= s.calls {
					return
				}
				req := &provider.Request{
					Model:     fmt.Sprintf("vendor/model-%d", i%s.models),
					MaxTokens: 256,
					Messages:  []provider.Message{{Role: provider.RoleUser, Content: fmt.Sprintf("Question %d: what limits a rate-limited API?", i)}},
				}
				resp, err := chain.Complete(context.Background(), req)
				if err != nil {
					failed.Add(1)
					continue
				}
				held.Add(int64(resp.Waited))
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	res.counts = rec.Count(time.Time{})
	res.stats = up.Stats()
	res.failed = int(failed.Load())
	res.held = time.Duration(held.Load())
	return res, nil
}

// capacity is the requests the upstream admits per window.
func (r result) capacity() int {
	if r.perModel {
		return r.limit * min(r.s.models, r.s.calls)
	}
	return r.limit
}

// floor is the least wall time the limit allows: the last call cannot go
// before the window that has room for it opens.
func (r result) floor() time.Duration {
	windows := (r.s.calls + r.capacity() - 1) / r.capacity()
	return time.Duration(windows-1) * r.s.window
}

// rate is the rate the upstream admitted requests at while calls were
// waiting: over every window but the last, which the backlog may not fill.
// It reports false when the calls fit in one window.
func (r result) rate() (float64, bool) {
	var first, last time.Time
	for slot := range r.stats.Admitted {
		if first.IsZero() || slot.Start.Before(first) {
			first = slot.Start
		}
		last = later(last, slot.Start)
	}
	if !last.After(first) {
		return 0, false
	}
	admitted := 0
	for slot, n := range r.stats.Admitted {
		if slot.Start.Before(last) {
			admitted += n
		}
	}
	return float64(admitted) / last.Sub(first).Seconds(), true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (r result) print(w io.Writer, name string) {
	budget := "per key"
	if r.perModel {
		budget = "per model"
	}
	allowed := float64(r.capacity()) / r.s.window.Seconds()
	rate, share, limit := "-", "-", "-"
	if r.limit < unlimited {
		limit = fmt.Sprintf("%.0f", allowed)
		if v, ok := r.rate(); ok {
			rate, share = fmt.Sprintf("%.1f", v), fmt.Sprintf("%.0f%%", 100*v/allowed)
		}
	}
	ratio := "-"
	if f := r.floor(); f > 0 {
		ratio = fmt.Sprintf("%.2f", r.wall.Seconds()/f.Seconds())
	}
	fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%d\t%d of %d\t%s\t%s\t%s\t%v\t%v\t%s\t%v\t\n",
		name, budget, r.failed, r.counts.Sent, r.counts.Rejected, r.counts.RejectedAfter, r.counts.SentAfter,
		rate, limit, share, r.wall.Round(time.Millisecond), r.floor(), ratio,
		(r.held / time.Duration(max(r.s.calls-r.failed, 1))).Round(time.Microsecond))
}
