package openrouter

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/councilhq/council/provider"
)

// statusKind classifies a non-2xx HTTP status, refined by the error body
// where the status alone is ambiguous (402, 429 and generic 5xx). e may be
// nil when the body held no error object.
func statusKind(status int, e *wireError) provider.Kind {
	sig := signalsOf(e)
	switch status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return provider.KindInvalidRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		return provider.KindAuth
	case http.StatusPaymentRequired:
		if inFlightBudget(sig) {
			return provider.KindRateLimited
		}
		return provider.KindQuota
	case http.StatusRequestTimeout:
		return provider.KindTimeout
	case http.StatusTooManyRequests:
		if quota(sig) {
			return provider.KindQuota
		}
		return provider.KindRateLimited
	case http.StatusBadGateway, http.StatusServiceUnavailable, statusOverloaded:
		return provider.KindOverloaded
	}
	switch {
	case status >= 500:
		if overloaded(sig) {
			return provider.KindOverloaded
		}
		return provider.KindUpstream
	case status >= 400:
		return provider.KindInvalidRequest
	}
	return provider.KindUnknown
}

// statusOverloaded is Anthropic's 529 "overloaded_error".
const statusOverloaded = 529

// streamErrorKind classifies an error that arrived inside a 200 response: a
// mid-stream error chunk or a JSON completion carrying an error object. A
// numeric code is read as an HTTP status; otherwise the error type decides,
// and anything unrecognised is [provider.KindUpstream].
func streamErrorKind(e *wireError) provider.Kind {
	if e == nil {
		return provider.KindUpstream
	}
	if st := e.status(); st >= 400 {
		if k := statusKind(st, e); k != provider.KindUnknown {
			return k
		}
	}
	sig := e.signals()
	switch {
	case quota(sig):
		return provider.KindQuota
	case inFlightBudget(sig), matchAny(sig, "rate_limit", "too_many_requests", "slow_down"):
		return provider.KindRateLimited
	case overloaded(sig):
		return provider.KindOverloaded
	case matchAny(sig, "timeout", "timed_out"):
		return provider.KindTimeout
	case matchAny(sig, "context_length", "invalid_request", "bad_request"):
		return provider.KindInvalidRequest
	case matchAny(sig, "authentication", "permission", "unauthorized", "forbidden"):
		return provider.KindAuth
	}
	return provider.KindUpstream
}

func signalsOf(e *wireError) []string {
	if e == nil {
		return nil
	}
	return e.signals()
}

// quota reports whether the error announces an exhausted balance, spend
// limit or quota rather than a rate limit: OpenAI insufficient_quota and its
// *_spend_limit_exceeded codes, Anthropic enforced_spend_limit_reached,
// OpenRouter credits and key limits.
func quota(sig []string) bool {
	return matchAny(sig, "quota", "spend_limit", "usage_limit", "credit", "billing",
		"payment_required", "key_limit", "weight_exceeds_budget")
}

// inFlightBudget reports OpenRouter's transient 402: the estimated cost of
// running requests does not fit the in-flight budget.
func inFlightBudget(sig []string) bool {
	return matchAny(sig, "in_flight_budget")
}

// overloaded reports a provider overload or unavailability.
func overloaded(sig []string) bool {
	return matchAny(sig, "overload", "unavailable")
}

func matchAny(sig []string, words ...string) bool {
	for _, s := range sig {
		for _, w := range words {
			if strings.Contains(s, w) {
				return true
			}
		}
	}
	return false
}

// statusMessage is the safe message of an HTTP status error.
func statusMessage(status int) string {
	text := strings.ToLower(http.StatusText(status))
	if status == statusOverloaded {
		text = "overloaded"
	}
	if text == "" {
		return "upstream returned " + strconv.Itoa(status)
	}
	return "upstream returned " + strconv.Itoa(status) + " " + text
}

// transportError classifies a failure to send the request or read the
// response: the caller's context first, then timeouts, and everything else
// (refused, reset, closed early) as [provider.KindNetwork].
func transportError(ctx context.Context, err error) *provider.Error {
	cause := ctx.Err()
	if cause == nil {
		cause = err
	}
	var ne net.Error
	switch {
	case errors.Is(cause, context.Canceled):
		return &provider.Error{Kind: provider.KindCanceled, Message: "canceled", Err: err}
	case errors.Is(cause, context.DeadlineExceeded):
		return &provider.Error{Kind: provider.KindTimeout, Message: "deadline exceeded", Err: err}
	case errors.As(err, &ne) && ne.Timeout():
		return &provider.Error{Kind: provider.KindTimeout, Message: "connection timed out", Err: err}
	}
	return &provider.Error{Kind: provider.KindNetwork, Message: "connection failed", Err: err}
}
