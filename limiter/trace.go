package limiter

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Span events recorded on the call's span (the one in the context, which
// the telemetry interceptor creates outermost) when tracing is on. Each
// carries [AttrDelay] and a cause: [AttrErrorType] on retry events,
// [AttrReason] on the others but [EventRateLimitScope], which carries
// [AttrScope]. None holds upstream text.
const (
	// EventRetry marks a retry about to wait: AttrAttempt is the attempt
	// that failed, AttrDelay the backoff, AttrErrorType the failure's kind.
	EventRetry = "council.retry"
	// EventRetryStop marks a retryable failure that is not retried;
	// AttrReason says why: "max_retries", "retry_budget", "deadline" or
	// "retry_after" (the provider asked for a longer wait than allowed).
	EventRetryStop = "council.retry.stop"
	// EventRateLimitWait marks a call held back before it is sent;
	// AttrReason is "budget" (waiting for the provider's budget or
	// Retry-After; AttrDelay is the expected wait, or 0 while another call
	// learns an unknown reset) or "in_flight" (queued behind the in-flight
	// cap).
	EventRateLimitWait = "council.ratelimit.wait"
	// EventCooldown marks a call refused because its model is cooling down;
	// AttrDelay is what is left of the cooldown (0 while a probe is out).
	EventCooldown = "council.cooldown"
	// EventCooldownStart marks a failure that starts a cooldown; AttrDelay
	// is its length.
	EventCooldownStart = "council.cooldown.start"
	// EventRateLimitScope marks an answer that changed the learned scope of
	// the budgets a provider key's models announce per model; AttrScope is
	// the scope now in force ([ScopePerKey] or [ScopePerModel]) and
	// AttrDelay is 0.
	EventRateLimitScope = "council.ratelimit.scope"
)

// Scopes of the budgets announced per model (see [Limiter]).
const (
	// ScopePerModel is each model with its own budget, as announced.
	ScopePerModel = "per_model"
	// ScopePerKey is one budget shared by every model of the provider key.
	ScopePerKey = "per_key"
)

// Span event attributes.
const (
	// AttrAttempt is the 1-based attempt number (int).
	AttrAttempt = attribute.Key("council.attempt")
	// AttrDelay is a wait in milliseconds (int).
	AttrDelay = attribute.Key("council.delay_ms")
	// AttrReason is a short snake_case cause (string).
	AttrReason = attribute.Key("council.reason")
	// AttrScope is a learned scope of budgets announced per model
	// ([ScopePerKey] or [ScopePerModel]).
	AttrScope = attribute.Key("council.ratelimit.scope")
	// AttrErrorType is the kind of a failed attempt ([provider.Kind.String]).
	AttrErrorType = attribute.Key("error.type")
)

// event adds a span event to the span in ctx when it is recording.
func event(ctx context.Context, name string, delay time.Duration, attrs ...attribute.KeyValue) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	attrs = append(attrs, AttrDelay.Int64(delay.Milliseconds()))
	span.AddEvent(name, trace.WithAttributes(attrs...))
}
