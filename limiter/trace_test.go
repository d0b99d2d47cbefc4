package limiter_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
)

// spanEvents runs one call through c inside a recorded span and returns
// the span's events as name → attributes.
func spanEvents(t *testing.T, clk *limitertest.Clock, c provider.Completer, req *provider.Request) ([]sdktrace.Event, error) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	var err error
	clk.Go(func() {
		ctx, span := tp.Tracer("test").Start(context.Background(), "chat")
		_, err = c.Complete(ctx, req)
		span.End()
	})
	clk.Wait()
	spans := rec.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	return spans[0].Events(), err
}

func attrs(e sdktrace.Event) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range e.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

func TestSpanEvents(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	limited := withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), hdr("Retry-After", "2"))
	down := fail(provider.KindOverloaded, http.StatusServiceUnavailable)
	up := &upstream{clk: clk, script: []result{limited, ok(hdr("x-ratelimit-limit-requests", "5", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s")), ok(nil), down, down}}
	c := provider.Chain(up,
		limiter.Retry(limiter.WithClock(clk), limiter.WithMaxRetries(1)),
		limiter.New(limiter.WithClock(clk), limiter.WithCooldown(limiter.CooldownRule{MinCalls: 2, Base: 10 * time.Second})).Interceptor())

	// A 429 with Retry-After: 2 is retried after 2 s.
	events, err := spanEvents(t, clk, c, request("m"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Name != limiter.EventRetry {
		t.Fatalf("events %v, want one %s", events, limiter.EventRetry)
	}
	a := attrs(events[0])
	if a[limiter.AttrAttempt].AsInt64() != 1 || a[limiter.AttrDelay].AsInt64() != 2000 || a[limiter.AttrErrorType].AsString() != "rate_limited" {
		t.Errorf("retry event attributes %v", a)
	}
	// The answer said the budget is spent for 3 s: the next call waits.
	events, err = spanEvents(t, clk, c, request("m"))
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Name != limiter.EventRateLimitWait ||
		attrs(events[0])[limiter.AttrDelay].AsInt64() != 3000 || attrs(events[0])[limiter.AttrReason].AsString() != "budget" {
		t.Fatalf("events %v, want one 3 s %s", events, limiter.EventRateLimitWait)
	}
	// Two 503s, half of the four calls that count, start a cooldown…
	events, _ = spanEvents(t, clk, c, request("m"))
	names := []string{}
	for _, e := range events {
		names = append(names, e.Name)
	}
	if len(names) != 3 || names[0] != limiter.EventRetry || names[1] != limiter.EventCooldownStart || names[2] != limiter.EventRetryStop {
		t.Fatalf("events %v, want a retry, a cooldown start and a retry stop", names)
	}
	if d := attrs(events[1])[limiter.AttrDelay].AsInt64(); d != 10000 {
		t.Errorf("cooldown of %d ms, want 10000", d)
	}
	// …that refuses the next call.
	events, err = spanEvents(t, clk, c, request("m"))
	if provider.AsError(err).Kind != provider.KindCooldown || len(events) != 1 || events[0].Name != limiter.EventCooldown {
		t.Fatalf("err %v, events %v; want a cooldown refusal", err, events)
	}
}

func TestSpanEventsHoldNoUpstreamText(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(epoch)
	r := withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), hdr("Retry-After", "1"))
	r.err.Err, r.err.Message = errSecret, "upstream returned 429"
	up := &upstream{clk: clk, script: []result{r}}
	c := provider.Chain(up, limiter.Retry(limiter.WithClock(clk)), limiter.New(limiter.WithClock(clk)).Interceptor())
	events, _ := spanEvents(t, clk, c, request("m"))
	if len(events) == 0 {
		t.Fatal("no events")
	}
	for _, e := range events {
		for _, kv := range e.Attributes {
			if strings.Contains(kv.Value.Emit(), "sk-or-secret") || strings.Contains(kv.Value.Emit(), "upstream") {
				t.Errorf("event %s attribute %s = %q holds upstream text", e.Name, kv.Key, kv.Value.Emit())
			}
		}
	}
}
