// Package event is how the interceptors of the outbound chain tell what
// they do to a call: package retry reports retries, package limiter waits,
// cooldowns and scope changes, and telemetry.Calls turns each into metrics
// and span events.
package event

import (
	"context"
	"time"

	"github.com/councilhq/council/provider"
)

// Observer is told what the outbound interceptors do to a call, as it
// happens: retries and why one stops, waits before an attempt is sent,
// and cooldowns. telemetry.Calls implements it with metrics, which count
// every event whether or not the call is traced, and span events on the
// call's span when it is. Observe is called on the call's goroutine with
// the call's context and must not block.
type Observer interface {
	Observe(ctx context.Context, e Event)
}

// Kind says what happened to a call.
type Kind int

// The events of a call.
const (
	// Retry: attempt Attempt failed with Failure and is retried after
	// Delay (the backoff, or the longer wait the provider asked for).
	Retry Kind = iota + 1
	// RetryStop: attempt Attempt failed retryably and is not retried;
	// Reason says why: "max_retries", "retry_budget", "deadline" or
	// "retry_after" (the provider asked for a longer wait, Delay, than
	// allowed).
	RetryStop
	// Wait: an attempt is held back before it is sent. Reason is
	// "budget" (waiting for the provider's budget or Retry-After; Delay is
	// the expected wait, or 0 while another call learns an unknown reset)
	// or "in_flight" (queued behind the in-flight cap).
	Wait
	// Cooldown: the call is refused because its model is cooling
	// down; Delay is what is left of the cooldown (0 while a probe is out).
	Cooldown
	// CooldownStart: the call's failure starts a cooldown of Delay.
	CooldownStart
	// Scope: the call's answer changed the learned scope of the
	// budgets its provider key's models announce per model; Scope is the
	// scope now in force.
	Scope
)

// Scopes of the budgets announced per model (see limiter.Limiter).
const (
	// ScopePerModel is each model with its own budget, as announced.
	ScopePerModel = "per_model"
	// ScopePerKey is one budget shared by every model of the provider key.
	ScopePerKey = "per_key"
)

// String returns a short snake_case name of the kind.
func (k Kind) String() string {
	switch k {
	case Retry:
		return "retry"
	case RetryStop:
		return "retry_stop"
	case Wait:
		return "wait"
	case Cooldown:
		return "cooldown"
	case CooldownStart:
		return "cooldown_start"
	case Scope:
		return "scope"
	}
	return "unknown"
}

// Event is one thing that happened to a call. It never holds upstream
// text.
type Event struct {
	Kind Kind
	// Model is the model the call is for.
	Model string
	// Attempt is the 1-based attempt an Retry or RetryStop is
	// about.
	Attempt int
	// Delay is the wait the event is about (see each kind).
	Delay time.Duration
	// Reason is the short snake_case cause of an RetryStop or an
	// Wait.
	Reason string
	// Failure is the kind of the failed attempt of an Retry or an
	// RetryStop.
	Failure provider.Kind
	// Scope is the scope an Scope switched to: [ScopePerKey] or
	// [ScopePerModel].
	Scope string
}

// Discard is an Observer that ignores every event: the observer of an
// interceptor configured without one.
var Discard Observer = discard{}

type discard struct{}

func (discard) Observe(context.Context, Event) {}
