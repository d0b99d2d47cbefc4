package provider

import (
	"context"
	"errors"
	"time"
)

// Kind classifies an upstream failure by what the caller should do about it.
type Kind int

// Failure kinds. New kinds may be added.
const (
	// KindUnknown is an unclassified failure; it is not retried.
	KindUnknown Kind = iota
	// KindInvalidRequest is a 400/404/413/422: the request itself is wrong.
	KindInvalidRequest
	// KindAuth is a 401/403: bad key or no permission.
	KindAuth
	// KindQuota is an exhausted credit balance, key limit or spend limit
	// (402, or a 429 that announces a quota rather than a rate limit).
	KindQuota
	// KindRateLimited is a 429 rate limit, or a transient 402 in-flight budget.
	KindRateLimited
	// KindOverloaded is a 502/503/529 or a provider "overloaded" error.
	KindOverloaded
	// KindUpstream is any other 5xx, or an error chunk in a stream.
	KindUpstream
	// KindTimeout is a call that ran past its deadline (408 included).
	KindTimeout
	// KindNetwork is a connection failure: refused, reset, closed early.
	KindNetwork
	// KindMalformed is a response that could not be decoded.
	KindMalformed
	// KindEmpty is a well-formed response without content.
	KindEmpty
	// KindCanceled is a call abandoned because its caller went away.
	KindCanceled
	// KindCooldown is a call refused locally because the model is cooling
	// down after consecutive failures.
	KindCooldown
	// KindLimited is a call refused locally because its rate-limit wait
	// could not finish before the deadline.
	KindLimited
)

var kindNames = [...]string{
	KindUnknown:        "unknown",
	KindInvalidRequest: "invalid_request",
	KindAuth:           "auth",
	KindQuota:          "quota",
	KindRateLimited:    "rate_limited",
	KindOverloaded:     "overloaded",
	KindUpstream:       "upstream",
	KindTimeout:        "timeout",
	KindNetwork:        "network",
	KindMalformed:      "malformed",
	KindEmpty:          "empty",
	KindCanceled:       "canceled",
	KindCooldown:       "cooldown",
	KindLimited:        "limited",
}

// Local reports a call refused by the outbound chain itself, a cooldown or
// a rate-limit wait that cannot end in time, rather than by the provider.
func (k Kind) Local() bool { return k == KindCooldown || k == KindLimited }

// String returns a short snake_case name, suitable as an error.type attribute.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Error is a classified upstream failure. Message is safe to show to callers;
// Err may hold upstream text and must never leave the process in a response,
// log line or trace.
type Error struct {
	// Kind says what went wrong.
	Kind Kind
	// StatusCode is the HTTP status, or 0 when there was none.
	StatusCode int
	// RetryAfter is the provider's requested wait: the longest of
	// RateLimits.RetryAfter and any equivalent in the error body (such as
	// Gemini's RetryInfo), or 0.
	RetryAfter time.Duration
	// RateLimits is what the failed response said about the provider's
	// budgets, its error body included.
	RateLimits RateLimits
	// Message is a short, safe, developer-facing description.
	Message string
	// Streamed is true when part of the completion had already been passed
	// to Request.OnDelta before the failure; such a call is never retried.
	Streamed bool
	// Attempts is the number of upstream attempts made before giving up;
	// zero means one.
	Attempts int
	// Waited is the time the failed attempt was held back before it was
	// sent or refused (rate limits, the in-flight queue), so that an
	// interceptor retrying outside can add it to the call's.
	Waited time.Duration
	// Err is the underlying cause. It is internal only.
	Err error
}

// Error returns the safe message with the kind.
func (e *Error) Error() string {
	if e.Message == "" {
		return "provider: " + e.Kind.String()
	}
	return "provider: " + e.Kind.String() + ": " + e.Message
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Retryable reports whether the same request may succeed if sent again.
func (e *Error) Retryable() bool {
	if e.Streamed {
		return false
	}
	switch e.Kind {
	case KindRateLimited, KindOverloaded, KindUpstream, KindTimeout, KindNetwork, KindMalformed, KindEmpty:
		return true
	}
	return false
}

// AsError returns err as an *Error: the one in its chain if any, otherwise a
// new one that classifies context errors and wraps anything else as
// [KindUnknown].
func AsError(err error) *Error {
	if err == nil {
		return nil
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: KindTimeout, Message: "deadline exceeded", Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: KindCanceled, Message: "canceled", Err: err}
	}
	return &Error{Kind: KindUnknown, Message: "unexpected error", Err: err}
}
