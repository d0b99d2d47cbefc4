package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/outbound/event"
	"github.com/councilhq/council/provider"
)

func chatRequest(model string) *provider.Request {
	temp := 0.7
	return &provider.Request{
		Model:       model,
		Messages:    []provider.Message{{Role: provider.RoleSystem, Content: "be brief"}, {Role: provider.RoleUser, Content: "why is the sky blue?"}},
		MaxTokens:   512,
		Temperature: &temp,
		Metadata: map[string]string{
			provider.MetaConsultationID: "c-42",
			provider.MetaStage:          "collect",
			provider.MetaTier:           "balanced",
		},
	}
}

// callInStage runs one call through the chain under a "council.collect"
// span and returns the stage span's context.
func callInStage(t *testing.T, h *harness, c provider.Completer, req *provider.Request) (trace.SpanContext, *provider.Response, error) {
	t.Helper()
	ctx, stage := h.tp.Tracer("test").Start(context.Background(), "council.collect")
	resp, err := c.Complete(ctx, req)
	stage.End()
	return stage.SpanContext(), resp, err
}

// chatSpans returns the ended spans whose name starts with "chat ".
func chatSpans(h *harness) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range h.spans.Ended() {
		if strings.HasPrefix(s.Name(), "chat ") {
			out = append(out, s)
		}
	}
	return out
}

func TestGenAIInterceptorSuccessSpan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		return &provider.Response{
			ID: "gen-123", Model: "openai/gpt-4o-mini-2024-07-18", Content: "Rayleigh scattering.",
			FinishReason: "stop", Usage: provider.Usage{InputTokens: 21, OutputTokens: 5, Cost: 0.0001},
		}, nil
	})
	c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(h.tp), WithMeterProvider(h.mp)))

	parent, _, err := callInStage(t, h, c, chatRequest("openai/gpt-4o-mini"))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	spans := chatSpans(h)
	if len(spans) != 1 {
		t.Fatalf("got %d chat spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name() != "chat openai/gpt-4o-mini" {
		t.Errorf("name = %q", s.Name())
	}
	if s.SpanKind() != trace.SpanKindClient {
		t.Errorf("kind = %v, want client", s.SpanKind())
	}
	if s.Parent().SpanID() != parent.SpanID() || s.SpanContext().TraceID() != parent.TraceID() {
		t.Errorf("chat span is not a child of the stage span")
	}
	if s.Status().Code != codes.Unset {
		t.Errorf("status = %v, want unset", s.Status())
	}
	want := map[string]string{
		"gen_ai.operation.name":          "chat",
		"gen_ai.provider.name":           "openrouter",
		"gen_ai.request.model":           "openai/gpt-4o-mini",
		"gen_ai.request.max_tokens":      "512",
		"gen_ai.request.temperature":     "0.7",
		"gen_ai.response.model":          "openai/gpt-4o-mini-2024-07-18",
		"gen_ai.response.id":             "gen-123",
		"gen_ai.response.finish_reasons": `["stop"]`,
		"gen_ai.usage.input_tokens":      "21",
		"gen_ai.usage.output_tokens":     "5",
		"council.consultation_id":        "c-42",
		"council.stage":                  "collect",
		"council.tier":                   "balanced",
		"council.attempts":               "1",
	}
	got := attrMap(s.Attributes())
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"error.type", "gen_ai.input.messages", "gen_ai.output.messages"} {
		if _, ok := got[k]; ok {
			t.Errorf("unexpected attribute %s", k)
		}
	}
}

func TestGenAIInterceptorErrorSpan(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantType   string
		wantStatus string
		wantHTTP   string
	}{
		{"rate limited", &provider.Error{Kind: provider.KindRateLimited, StatusCode: 429, Message: "rate limited", Attempts: 4, Err: errors.New("upstream: slow down")},
			"rate_limited", "provider: rate_limited: rate limited", "429"},
		{"timeout", &provider.Error{Kind: provider.KindTimeout, Message: "model call timed out after 10s"},
			"timeout", "provider: timeout: model call timed out after 10s", ""},
		{"bare context error", context.DeadlineExceeded, "timeout", "provider: timeout: deadline exceeded", ""},
		{"unclassified", errors.New("boom: internal detail"), "unknown", "provider: unknown: unexpected error", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) { return nil, tc.err })
			c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(h.tp), WithMeterProvider(h.mp)))
			if _, _, err := callInStage(t, h, c, chatRequest("m/x")); err != tc.err {
				t.Fatalf("error = %v, want the completer's error unchanged", err)
			}
			spans := chatSpans(h)
			if len(spans) != 1 {
				t.Fatalf("got %d chat spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Status().Code != codes.Error || s.Status().Description != tc.wantStatus {
				t.Errorf("status = %+v, want error %q", s.Status(), tc.wantStatus)
			}
			got := attrMap(s.Attributes())
			if got["error.type"] != tc.wantType {
				t.Errorf("error.type = %q, want %q", got["error.type"], tc.wantType)
			}
			if got["http.response.status_code"] != tc.wantHTTP {
				t.Errorf("http.response.status_code = %q, want %q", got["http.response.status_code"], tc.wantHTTP)
			}
			if strings.Contains(fmt.Sprint(s.Attributes(), s.Events(), s.Status()), "upstream: slow down") ||
				strings.Contains(fmt.Sprint(s.Attributes(), s.Events(), s.Status()), "internal detail") {
				t.Errorf("span holds the underlying error's text")
			}
			failures, ok := sumOf(t, h.metrics(t)[MetricModelFailures], map[string]string{"gen_ai.request.model": "m/x", "error.type": tc.wantType, "council.stage": "collect"})
			if !ok || failures != 1 {
				t.Errorf("failures counter = %d (present %v), want 1", failures, ok)
			}
		})
	}
}

// eventingRetry stands in for the retry and limiter interceptors: it fails
// the first attempts with the given kinds, reporting the events they report
// to calls, then calls next.
func eventingRetry(calls *Calls, kinds ...provider.Kind) provider.Interceptor {
	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		calls.Observe(ctx, event.Event{Kind: event.Wait, Model: req.Model, Delay: 250 * time.Millisecond, Reason: "budget"})
		for i, k := range kinds {
			calls.Observe(ctx, event.Event{Kind: event.Retry, Model: req.Model, Attempt: i + 1, Delay: time.Second, Failure: k})
		}
		resp, err := next.Complete(ctx, req)
		if resp != nil {
			resp.Attempts = len(kinds) + 1
		}
		return resp, err
	}
}

func TestGenAIInterceptorRetriesAreEventsOnOneSpan(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	upstream := 0
	base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		upstream++
		return &provider.Response{Content: "ok", Usage: provider.Usage{InputTokens: 3, OutputTokens: 2}}, nil
	})
	calls := NewCalls(WithTracerProvider(h.tp), WithMeterProvider(h.mp))
	c := provider.Chain(base,
		calls.Interceptor(),
		eventingRetry(calls, provider.KindRateLimited, provider.KindOverloaded, provider.KindRateLimited))
	if _, _, err := callInStage(t, h, c, chatRequest("m/r")); err != nil {
		t.Fatal(err)
	}
	if upstream != 1 {
		t.Errorf("upstream called %d times, want 1", upstream)
	}
	spans := chatSpans(h)
	if len(spans) != 1 {
		t.Fatalf("got %d chat spans, want 1 covering every attempt", len(spans))
	}
	var names []string
	for _, e := range spans[0].Events() {
		names = append(names, e.Name)
	}
	wantNames := []string{EventRateLimitWait, EventRetry, EventRetry, EventRetry}
	if fmt.Sprint(names) != fmt.Sprint(wantNames) {
		t.Errorf("events = %v, want %v", names, wantNames)
	}
	if a := attrMap(spans[0].Events()[1].Attributes); a["council.attempt"] != "1" || a["council.delay_ms"] != "1000" || a["error.type"] != "rate_limited" {
		t.Errorf("first retry event attributes = %v", a)
	}
	if got := attrMap(spans[0].Attributes())["council.attempts"]; got != "4" {
		t.Errorf("council.attempts = %q, want 4", got)
	}
	if got, ok := attrMap(spans[0].Attributes())["gen_ai.response.model"]; ok {
		t.Errorf("gen_ai.response.model = %q, want none when the provider names none", got)
	}
	ms := h.metrics(t)
	if v, _ := sumOf(t, ms[MetricModelRetries], map[string]string{"gen_ai.request.model": "m/r"}); v != 3 {
		t.Errorf("retries = %d, want 3", v)
	}
	if v, _ := sumOf(t, ms[MetricModelRateLimited], map[string]string{"gen_ai.request.model": "m/r"}); v != 2 {
		t.Errorf("rate limited = %d, want 2", v)
	}
}

func TestGenAIInterceptorCountsRateLimitsWithTracingOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
		return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: 429, Attempts: 2}
	})
	// No tracer provider option and no global one: spans do not record.
	calls := NewCalls(WithMeterProvider(h.mp))
	c := provider.Chain(base, calls.Interceptor(), eventingRetry(calls, provider.KindRateLimited))
	if _, err := c.Complete(context.Background(), chatRequest("m/q")); err == nil {
		t.Fatal("want an error")
	}
	if v, _ := sumOf(t, h.metrics(t)[MetricModelRateLimited], map[string]string{"gen_ai.request.model": "m/q"}); v != 2 {
		t.Errorf("rate limited = %d, want 2 (one retried, one final)", v)
	}
}

func TestGenAIInterceptorCountsLimiterEventsWithTracingOff(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	calls := NewCalls(WithMeterProvider(h.mp))
	limiting := func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		calls.Observe(ctx, event.Event{Kind: event.Wait, Model: req.Model, Reason: "in_flight"})
		calls.Observe(ctx, event.Event{Kind: event.Wait, Model: req.Model, Reason: "budget"})
		calls.Observe(ctx, event.Event{Kind: event.RetryStop, Model: req.Model, Reason: "retry_budget"})
		calls.Observe(ctx, event.Event{Kind: event.CooldownStart, Model: req.Model, Delay: 30 * time.Second})
		return next.Complete(ctx, req)
	}
	base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
		return nil, &provider.Error{Kind: provider.KindUpstream, Attempts: 1}
	})
	c := provider.Chain(base, calls.Interceptor(), limiting)
	for range 2 {
		_, _ = c.Complete(context.Background(), chatRequest("m/c"))
	}
	ms := h.metrics(t)
	model := map[string]string{"gen_ai.request.model": "m/c"}
	if v, _ := sumOf(t, ms[MetricModelCooldowns], model); v != 2 {
		t.Errorf("cooldowns = %d, want 2", v)
	}
	for _, tc := range []struct {
		metric, reason string
	}{{MetricModelWaits, "in_flight"}, {MetricModelWaits, "budget"}, {MetricModelRetryStops, "retry_budget"}} {
		if v, _ := sumOf(t, ms[tc.metric], map[string]string{"gen_ai.request.model": "m/c", "council.reason": tc.reason}); v != 2 {
			t.Errorf("%s{%s} = %d, want 2", tc.metric, tc.reason, v)
		}
	}
}

func TestGenAIInterceptorMetrics(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		if req.Model == "m/bad" {
			return nil, &provider.Error{Kind: provider.KindOverloaded}
		}
		return &provider.Response{Model: req.Model, Content: "ok", Usage: provider.Usage{InputTokens: 100, OutputTokens: 7}}, nil
	})
	c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(h.tp), WithMeterProvider(h.mp)))
	for _, m := range []string{"m/a", "m/a", "m/bad"} {
		_, _ = c.Complete(context.Background(), chatRequest(m))
	}
	ms := h.metrics(t)

	dur, ok := ms[MetricOperationDuration].Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%s missing or not a float histogram", MetricOperationDuration)
	}
	if ms[MetricOperationDuration].Unit != "s" {
		t.Errorf("duration unit = %q", ms[MetricOperationDuration].Unit)
	}
	counts := map[string]uint64{}
	for _, dp := range dur.DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		counts[a["gen_ai.request.model"]+"|"+a["error.type"]] += dp.Count
		if a["gen_ai.operation.name"] != "chat" || a["gen_ai.provider.name"] != "openrouter" {
			t.Errorf("duration point lacks the operation or provider: %v", a)
		}
		if len(dp.Bounds) != len(operationDurationBuckets) || dp.Bounds[0] != 0.01 || dp.Bounds[len(dp.Bounds)-1] != 81.92 {
			t.Errorf("duration buckets = %v", dp.Bounds)
		}
	}
	if counts["m/a|"] != 2 || counts["m/bad|overloaded"] != 1 {
		t.Errorf("duration counts = %v", counts)
	}

	tok, ok := ms[MetricTokenUsage].Data.(metricdata.Histogram[int64])
	if !ok {
		t.Fatalf("%s missing or not an int histogram", MetricTokenUsage)
	}
	sums := map[string]int64{}
	for _, dp := range tok.DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		sums[a["gen_ai.request.model"]+"|"+a["gen_ai.token.type"]] += dp.Sum
	}
	if sums["m/a|input"] != 200 || sums["m/a|output"] != 14 || len(sums) != 2 {
		t.Errorf("token sums = %v, want input 200 and output 14 for m/a only", sums)
	}
}

// The attributes of a successful call's metrics, built once and kept, are
// those of its own model, answering model and stage.
func TestGenAIInterceptorMetricsOfRepeatedCalls(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		return &provider.Response{Model: req.Metadata["answered"], Content: "ok", Attempts: 2, Usage: provider.Usage{InputTokens: 1, OutputTokens: 1}}, nil
	})
	c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(h.tp), WithMeterProvider(h.mp)))
	for _, call := range []struct{ answered, stage string }{
		{"m/x-1", "collect"}, {"m/x-1", "collect"}, {"m/x-2", "collect"}, {"m/x-1", "review"}, {"", "review"},
	} {
		req := chatRequest("m/x")
		req.Metadata = map[string]string{"answered": call.answered, provider.MetaStage: call.stage}
		if _, err := c.Complete(context.Background(), req); err != nil {
			t.Fatal(err)
		}
	}
	ms := h.metrics(t)
	durations := map[string]uint64{}
	for _, dp := range ms[MetricOperationDuration].Data.(metricdata.Histogram[float64]).DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		durations[a["gen_ai.request.model"]+"|"+a["gen_ai.response.model"]] += dp.Count
	}
	if want := map[string]uint64{"m/x|m/x-1": 3, "m/x|m/x-2": 1, "m/x|": 1}; !maps.Equal(durations, want) {
		t.Errorf("duration counts = %v, want %v", durations, want)
	}
	tokens := map[string]int64{}
	for _, dp := range ms[MetricTokenUsage].Data.(metricdata.Histogram[int64]).DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		tokens[a["gen_ai.response.model"]+"|"+a["gen_ai.token.type"]] += dp.Sum
	}
	if want := map[string]int64{"m/x-1|input": 3, "m/x-1|output": 3, "m/x-2|input": 1, "m/x-2|output": 1, "|input": 1, "|output": 1}; !maps.Equal(tokens, want) {
		t.Errorf("token sums = %v, want %v", tokens, want)
	}
	retries := map[string]int64{}
	for _, dp := range ms[MetricModelRetries].Data.(metricdata.Sum[int64]).DataPoints {
		a := attrMap(dp.Attributes.ToSlice())
		retries[a["gen_ai.request.model"]+"|"+a["council.stage"]] += dp.Value
	}
	if want := map[string]int64{"m/x|collect": 3, "m/x|review": 2}; !maps.Equal(retries, want) {
		t.Errorf("retries = %v, want %v", retries, want)
	}
}

func TestGenAIInterceptorContentCapture(t *testing.T) {
	t.Parallel()
	for _, on := range []bool{false, true} {
		t.Run(fmt.Sprint(on), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
				return &provider.Response{Content: "Because of Rayleigh scattering.", FinishReason: "stop"}, nil
			})
			c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(h.tp), WithMeterProvider(h.mp), WithContentCapture(on)))
			if _, _, err := callInStage(t, h, c, chatRequest("m/c")); err != nil {
				t.Fatal(err)
			}
			got := attrMap(chatSpans(h)[0].Attributes())
			in, hasIn := got["gen_ai.input.messages"]
			out, hasOut := got["gen_ai.output.messages"]
			if hasIn != on || hasOut != on {
				t.Fatalf("capture %v: input recorded %v, output recorded %v", on, hasIn, hasOut)
			}
			if !on {
				return
			}
			var msgs []contentMessage
			if err := json.Unmarshal([]byte(in), &msgs); err != nil || len(msgs) != 2 ||
				msgs[1].Role != "user" || msgs[1].Parts[0].Content != "why is the sky blue?" {
				t.Errorf("input messages = %s (%v)", in, err)
			}
			if err := json.Unmarshal([]byte(out), &msgs); err != nil || len(msgs) != 1 ||
				msgs[0].Role != "assistant" || msgs[0].Parts[0].Content != "Because of Rayleigh scattering." || msgs[0].FinishReason != "stop" {
				t.Errorf("output messages = %s (%v)", out, err)
			}
		})
	}
}

// A change of the learned rate-limit scope is an event on the call's span.
func TestObserveScopeIsASpanEvent(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	calls := NewCalls(WithTracerProvider(h.tp), WithMeterProvider(h.mp))
	base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		calls.Observe(ctx, event.Event{Kind: event.Scope, Model: req.Model, Scope: event.ScopePerKey})
		return &provider.Response{Content: "ok"}, nil
	})
	if _, _, err := callInStage(t, h, provider.Chain(base, calls.Interceptor()), chatRequest("m/s")); err != nil {
		t.Fatal(err)
	}
	spans := chatSpans(h)
	if len(spans) != 1 || len(spans[0].Events()) != 1 {
		t.Fatalf("want one chat span with one event, got %d spans", len(spans))
	}
	e := spans[0].Events()[0]
	if e.Name != EventRateLimitScope || attrMap(e.Attributes)["council.ratelimit.scope"] != "per_key" {
		t.Errorf("event %s %v, want %s with scope per_key", e.Name, attrMap(e.Attributes), EventRateLimitScope)
	}
}
