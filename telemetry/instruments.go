package telemetry

import (
	"context"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/provider"
)

// callInstruments are the metrics [GenAIInterceptor] records.
type callInstruments struct {
	duration    metric.Float64Histogram
	tokens      metric.Int64Histogram
	failures    metric.Int64Counter
	retries     metric.Int64Counter
	rateLimited metric.Int64Counter
}

// newCallInstruments creates the call instruments. The API never returns a
// nil instrument, even with an error, so errors (which only report invalid
// names) are dropped in favour of the no-op instruments returned alongside.
func newCallInstruments(m metric.Meter) callInstruments {
	var c callInstruments
	c.duration, _ = m.Float64Histogram(MetricOperationDuration,
		metric.WithDescription("GenAI operation duration."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(operationDurationBuckets...))
	c.tokens, _ = m.Int64Histogram(MetricTokenUsage,
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithUnit("{token}"),
		metric.WithExplicitBucketBoundaries(tokenUsageBuckets...))
	c.failures, _ = m.Int64Counter(MetricModelFailures,
		metric.WithDescription("Model calls that failed after all retries, by model, stage and error.type."),
		metric.WithUnit("{call}"))
	c.retries, _ = m.Int64Counter(MetricModelRetries,
		metric.WithDescription("Upstream attempts beyond the first, by model and stage."),
		metric.WithUnit("{attempt}"))
	c.rateLimited, _ = m.Int64Counter(MetricModelRateLimited,
		metric.WithDescription("Upstream attempts refused with a rate limit (HTTP 429), by model."),
		metric.WithUnit("{attempt}"))
	return c
}

// recordTokens records the input and output token counts the provider reported.
func recordTokens(ctx context.Context, c callInstruments, u provider.Usage, attrs []attribute.KeyValue) {
	for _, t := range []struct {
		kind string
		n    int64
	}{{"input", u.InputTokens}, {"output", u.OutputTokens}} {
		if t.n > 0 {
			c.tokens.Record(ctx, t.n, metric.WithAttributes(append(attrs, AttrTokenType.String(t.kind))...))
		}
	}
}

// addRetries counts the attempts beyond the first.
func addRetries(ctx context.Context, c callInstruments, n int, opt metric.AddOption) {
	if n > 1 {
		c.retries.Add(ctx, int64(n-1), opt)
	}
}

// eventCountingSpan is the call span as the interceptors inside
// [GenAIInterceptor] see it: it forwards everything to the real span and
// counts the retried attempts that were rate limited.
type eventCountingSpan struct {
	trace.Span
	rateLimited atomic.Int64
}

// AddEvent forwards the event and counts rate-limited retries.
func (s *eventCountingSpan) AddEvent(name string, opts ...trace.EventOption) {
	if name == EventRetry {
		cfg := trace.NewEventConfig(opts...)
		for _, kv := range cfg.Attributes() {
			if kv.Key == AttrErrorType && kv.Value.AsString() == provider.KindRateLimited.String() {
				s.rateLimited.Add(1)
			}
		}
	}
	s.Span.AddEvent(name, opts...)
}
