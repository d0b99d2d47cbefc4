package provider

import "time"

// Resource is a quantity a provider meters per window.
type Resource int

// Metered resources. Requests is what every dialect announces; the token
// resources come from OpenAI (Tokens) and Anthropic (all three).
const (
	Requests Resource = iota
	Tokens
	InputTokens
	OutputTokens
	// NumResources is the number of resources, the length of
	// [RateLimits.Quotas].
	NumResources
)

var resourceNames = [...]string{"requests", "tokens", "input_tokens", "output_tokens"}

// String returns the resource's snake_case name.
func (r Resource) String() string {
	if r >= 0 && r < NumResources {
		return resourceNames[r]
	}
	return "unknown"
}

// Quota is one budget a response announced.
type Quota struct {
	// Announced is true when the response stated how much is left; the
	// other fields are meaningless otherwise.
	Announced bool
	// Limit is the cap of the window, or 0 when not announced.
	Limit int64
	// Remaining is what is left of the window.
	Remaining int64
	// ResetAt is when the budget is back in full, as a time of the
	// provider's clock, or the zero time when not announced as a time.
	ResetAt time.Time
	// Relative is true when the reset was announced as a delay from the
	// response ("6m0s", "30"); ResetAfter holds it.
	Relative bool
	// ResetAfter is the delay of a Relative reset.
	ResetAfter time.Duration
}

// RateLimits is what one response says about the provider's budgets, read
// from its wire signals by the provider's adapter. The zero value says
// nothing.
type RateLimits struct {
	// Quotas holds the budgets of the model the call went to, indexed by
	// [Resource]: OpenAI and Anthropic meter each model (or model class)
	// on its own, unless the limit is in fact the key's.
	Quotas [NumResources]Quota
	// Shared is the request budget shared by every model called with the
	// same provider key (OpenRouter's limits are per key).
	Shared Quota
	// RetryAfter is the wait the provider asked for before the next
	// request (Retry-After and its millisecond variants), or 0.
	RetryAfter time.Duration
	// Date is the provider's clock when it answered (whole seconds), or
	// the zero time.
	Date time.Time
}

// Wait is how long the answer that announced rl asks the client to wait
// before its next request, measured from now, when the answer arrived: its
// RetryAfter or, when later, the reset of a budget it announced as spent.
func (rl RateLimits) Wait(now time.Time) time.Duration {
	d := rl.RetryAfter
	for _, q := range append(rl.Quotas[:], rl.Shared) {
		if !q.Announced || q.Remaining > 0 {
			continue
		}
		switch {
		case q.Relative:
			d = max(d, q.ResetAfter)
		case !q.ResetAt.IsZero():
			d = max(d, q.ResetAt.Sub(now))
		}
	}
	return max(d, 0)
}
