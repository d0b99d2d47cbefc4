package limiter

import (
	"context"
	"time"

	"github.com/councilhq/council/provider"
)

// Observer is told what the interceptors of this package do to a call, as
// it happens: retries and why one stops, waits before an attempt is sent,
// and cooldowns. telemetry.Calls implements it with metrics, which count
// every event whether or not the call is traced, and span events on the
// call's span when it is. Observe is called on the call's goroutine with
// the call's context and must not block.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// EventKind says what happened to a call.
type EventKind int

// The events of a call.
const (
	// EventRetry: attempt Attempt failed with Failure and is retried after
	// Delay (the backoff, or the longer wait the provider asked for).
	EventRetry EventKind = iota + 1
	// EventRetryStop: attempt Attempt failed retryably and is not retried;
	// Reason says why: "max_retries", "retry_budget", "deadline" or
	// "retry_after" (the provider asked for a longer wait, Delay, than
	// allowed).
	EventRetryStop
	// EventWait: an attempt is held back before it is sent. Reason is
	// "budget" (waiting for the provider's budget or Retry-After; Delay is
	// the expected wait, or 0 while another call learns an unknown reset)
	// or "in_flight" (queued behind the in-flight cap).
	EventWait
	// EventCooldown: the call is refused because its model is cooling
	// down; Delay is what is left of the cooldown (0 while a probe is out).
	EventCooldown
	// EventCooldownStart: the call's failure starts a cooldown of Delay.
	EventCooldownStart
	// EventScope: the call's answer changed the learned scope of the
	// budgets its provider key's models announce per model; Scope is the
	// scope now in force.
	EventScope
)

// Scopes of the budgets announced per model (see [Limiter]).
const (
	// ScopePerModel is each model with its own budget, as announced.
	ScopePerModel = "per_model"
	// ScopePerKey is one budget shared by every model of the provider key.
	ScopePerKey = "per_key"
)

// String returns a short snake_case name of the kind.
func (k EventKind) String() string {
	switch k {
	case EventRetry:
		return "retry"
	case EventRetryStop:
		return "retry_stop"
	case EventWait:
		return "wait"
	case EventCooldown:
		return "cooldown"
	case EventCooldownStart:
		return "cooldown_start"
	case EventScope:
		return "scope"
	}
	return "unknown"
}

// Event is one thing that happened to a call. It never holds upstream
// text.
type Event struct {
	Kind EventKind
	// Model is the model the call is for.
	Model string
	// Attempt is the 1-based attempt an EventRetry or EventRetryStop is
	// about.
	Attempt int
	// Delay is the wait the event is about (see each kind).
	Delay time.Duration
	// Reason is the short snake_case cause of an EventRetryStop or an
	// EventWait.
	Reason string
	// Failure is the kind of the failed attempt of an EventRetry or an
	// EventRetryStop.
	Failure provider.Kind
	// Scope is the scope an EventScope switched to: [ScopePerKey] or
	// [ScopePerModel].
	Scope string
}

// nopObserver is the observer of an interceptor configured without one.
type nopObserver struct{}

func (nopObserver) Observe(context.Context, Event) {}
