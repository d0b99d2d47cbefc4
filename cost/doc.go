// Package cost prices model calls: the provider's model catalog with its
// per-token prices, refreshed periodically, and the estimates a
// consultation plans its spending with.
//
// An estimate is an upper bound under the provider's prices: the prompt's
// tokens counted from its text (one per three bytes, rounded up, plus a
// few per message) and the request's max_tokens as the completion. The
// actual cost of a call is the cost the provider reported (OpenRouter's
// usage.cost), or, when it reported none, its token counts at the listed
// price.
package cost
