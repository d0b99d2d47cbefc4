package limiter

import (
	"time"

	"github.com/councilhq/council/provider"
)

// Resource is a quantity a provider meters per window.
type Resource = provider.Resource

// Metered resources, as the provider port names them.
const (
	Requests     = provider.Requests
	Tokens       = provider.Tokens
	InputTokens  = provider.InputTokens
	OutputTokens = provider.OutputTokens
	NumResources = provider.NumResources
)

// Quota is one budget a response announced.
type Quota struct {
	// Announced is true when the response stated how much is left; the
	// other fields are meaningless otherwise.
	Announced bool
	// Limit is the cap of the window, or 0 when not announced.
	Limit int64
	// Remaining is what is left of the window.
	Remaining int64
	// Reset is when the budget is back in full, or the zero time when not
	// announced.
	Reset time.Time
	// Relative is true when Reset was announced as a delay ("6m0s", "30")
	// and is therefore measured from the time the answer arrived.
	Relative bool
}

// Signal is what one response says about a provider's budget.
type Signal struct {
	// Quotas holds the budgets of the model the call went to, indexed by
	// [Resource]: OpenAI and Anthropic meter each model (or model class)
	// on its own.
	Quotas [NumResources]Quota
	// Shared is the request budget shared by every model called with the
	// same provider key: OpenRouter's X-RateLimit-* (its platform limits are
	// per key) and the IETF RateLimit-* headers.
	Shared Quota
	// RetryAt is the earliest time the provider accepts another request
	// (its Retry-After, or an equivalent), or the zero time.
	RetryAt time.Time
	// Date is the provider's clock when it answered, from the Date header
	// (whole seconds), or the zero time.
	Date time.Time
}

// signalOf reads what a result announced, received at now: its rate
// limits (delays measured from now) and the longest wait the provider asked
// for, there or in retryAfter (an error's).
func signalOf(rl provider.RateLimits, retryAfter time.Duration, now time.Time) Signal {
	s := Signal{Shared: quotaOf(rl.Shared, now), Date: rl.Date}
	for r, q := range rl.Quotas {
		s.Quotas[r] = quotaOf(q, now)
	}
	if d := max(rl.RetryAfter, retryAfter); d > 0 {
		s.RetryAt = now.Add(d)
	}
	return s
}

// quotaOf turns an announced quota into one with its reset in time.
func quotaOf(q provider.Quota, now time.Time) Quota {
	out := Quota{Announced: q.Announced, Limit: q.Limit, Remaining: q.Remaining, Reset: q.ResetAt, Relative: q.Relative}
	if q.Relative {
		out.Reset = now.Add(q.ResetAfter)
	}
	return out
}
