package limiter

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span events recorded on the call's span (the one in the context, created
// by the telemetry interceptor) when tracing is on. Their attributes are
// [AttrAttempt], [AttrDelay] and [AttrReason]; none holds upstream text.
const (
	// EventRetry marks a retry about to wait: attempt is the number of the
	// attempt that failed, delay the backoff, reason the failure's kind.
	EventRetry = "council.retry"
	// EventRetryStop marks a retryable failure that is not retried; reason
	// says why ("max_retries", "retry_budget", "deadline", "retry_after").
	EventRetryStop = "council.retry.stop"
	// EventWait marks a call held back before it is sent; reason is
	// "rate_limit" (waiting for the provider's budget, delay the expected
	// wait or 0 while another call learns it) or "in_flight" (queued behind
	// the in-flight cap).
	EventWait = "council.wait"
	// EventCooldown marks a call refused because its model is cooling down;
	// delay is what is left of the cooldown.
	EventCooldown = "council.cooldown"
	// EventCooldownStart marks a failure that starts a cooldown; delay is
	// its length and reason the failure's kind.
	EventCooldownStart = "council.cooldown.start"
)

// Span event attributes.
const (
	// AttrAttempt is the 1-based attempt number (int).
	AttrAttempt = attribute.Key("council.attempt")
	// AttrDelay is a wait in seconds (float).
	AttrDelay = attribute.Key("council.delay")
	// AttrReason is a short snake_case cause (string).
	AttrReason = attribute.Key("council.reason")
)

// event adds a span event to the span in ctx when it is recording.
func event(ctx context.Context, name string, delay time.Duration, reason string, attrs ...attribute.KeyValue) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs = append(attrs, AttrDelay.Float64(delay.Seconds()), AttrReason.String(reason))
	span.AddEvent(name, trace.WithAttributes(attrs...))
}
