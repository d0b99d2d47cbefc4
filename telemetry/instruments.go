package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/metric"
)

// callInstruments are the metrics [Calls] records.
type callInstruments struct {
	duration    metric.Float64Histogram
	tokens      metric.Int64Histogram
	failures    metric.Int64Counter
	retries     metric.Int64Counter
	rateLimited metric.Int64Counter
	cooldowns   metric.Int64Counter
	retryStops  metric.Int64Counter
	waits       metric.Int64Counter
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
	c.cooldowns, _ = m.Int64Counter(MetricModelCooldowns,
		metric.WithDescription("Cooldowns started: failures after which a model's calls are refused for a while, by model."),
		metric.WithUnit("{cooldown}"))
	c.retryStops, _ = m.Int64Counter(MetricModelRetryStops,
		metric.WithDescription("Retryable failures that were not retried, by model and council.reason (retry_budget, max_retries, deadline, retry_after)."),
		metric.WithUnit("{attempt}"))
	c.waits, _ = m.Int64Counter(MetricModelWaits,
		metric.WithDescription("Attempts held back before they were sent, by model and council.reason (budget: the provider's rate limit; in_flight: the in-flight cap)."),
		metric.WithUnit("{attempt}"))
	return c
}

// addRetries counts the attempts beyond the first.
func addRetries(ctx context.Context, c callInstruments, n int, opt metric.AddOption) {
	if n > 1 {
		c.retries.Add(ctx, int64(n-1), opt)
	}
}
