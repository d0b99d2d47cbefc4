package openrouter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/councilhq/council/provider"
)

// ParseRateLimits reads the rate-limit headers of a response received at
// now. It understands every dialect an OpenAI-compatible server speaks:
//
//   - OpenRouter and the common form: X-RateLimit-Limit, -Remaining and
//     -Reset, where Reset is an epoch in milliseconds (OpenRouter; on 429s
//     only, and copied into error.metadata.headers), an epoch in seconds,
//     or a delay in seconds; also the IETF RateLimit-Limit/-Remaining/-Reset.
//     These describe the budget of the provider key
//     ([provider.RateLimits.Shared]).
//   - OpenAI (and Groq): x-ratelimit-{limit,remaining,reset}-{requests,tokens},
//     the reset being a delay such as "1s", "6m0s" or "2m59.56s".
//   - Anthropic: anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset},
//     the reset an RFC 3339 time.
//   - Retry-After and its millisecond variants ([ParseRetryAfter]).
//   - Date, the provider's clock.
//
// The other dialects describe the model's own budgets
// ([provider.RateLimits.Quotas]). Every reset form is accepted in every
// header, so a provider that mixes them is still understood; a delay
// becomes ResetAfter, a time ResetAt. Where two headers describe the same
// budget the tighter one (less remaining, later reset) wins. Malformed,
// negative and absurd values (a reset more than 400 days away) are ignored;
// ParseRateLimits never fails. Header names are matched case-insensitively.
func ParseRateLimits(h http.Header, now time.Time) provider.RateLimits {
	var s provider.RateLimits
	if len(h) == 0 {
		return s
	}
	s.Shared = tighter(now, parseQuota(h, now, "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
		parseQuota(h, now, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))
	req := &s.Quotas[provider.Requests]
	*req = tighter(now, *req, parseQuota(h, now, "X-RateLimit-Limit-Requests", "X-RateLimit-Remaining-Requests", "X-RateLimit-Reset-Requests"))
	tok := &s.Quotas[provider.Tokens]
	*tok = tighter(now, *tok, parseQuota(h, now, "X-RateLimit-Limit-Tokens", "X-RateLimit-Remaining-Tokens", "X-RateLimit-Reset-Tokens"))
	for r, name := range [...]string{provider.Requests: "requests", provider.Tokens: "tokens", provider.InputTokens: "input-tokens", provider.OutputTokens: "output-tokens"} {
		p := "Anthropic-Ratelimit-" + name + "-"
		s.Quotas[r] = tighter(now, s.Quotas[r], parseQuota(h, now, p+"Limit", p+"Remaining", p+"Reset"))
	}
	s.RetryAfter = ParseRetryAfter(h, now)
	if d, err := http.ParseTime(get(h, "Date")); err == nil {
		s.Date = d
	}
	return s
}

// parseQuota reads one limit/remaining/reset triple; without a valid
// remaining count nothing is announced.
func parseQuota(h http.Header, now time.Time, limitKey, remainingKey, resetKey string) provider.Quota {
	rem, ok := parseCount(get(h, remainingKey))
	if !ok {
		return provider.Quota{}
	}
	q := provider.Quota{Announced: true, Remaining: rem}
	if l, ok := parseCount(get(h, limitKey)); ok && l > 0 {
		q.Limit = l
		q.Remaining = min(q.Remaining, l)
	}
	q.ResetAt, q.ResetAfter, q.Relative = parseReset(get(h, resetKey), now)
	return q
}

// get returns the first value of the header key, matching its name
// case-insensitively even in a map whose keys were not canonicalised.
func get(h http.Header, key string) string {
	if v := h.Get(key); v != "" {
		return v
	}
	for k, v := range h {
		if len(v) > 0 && strings.EqualFold(k, key) {
			return v[0]
		}
	}
	return ""
}

// resetOf is when q says its budget is back, measured from now.
func resetOf(q provider.Quota, now time.Time) time.Time {
	if q.Relative {
		return now.Add(q.ResetAfter)
	}
	return q.ResetAt
}

// tighter combines two announcements of the same resource: the one with
// less remaining wins, and the later reset is kept.
func tighter(now time.Time, a, b provider.Quota) provider.Quota {
	switch {
	case !b.Announced:
		return a
	case !a.Announced:
		return b
	}
	out := a
	if b.Remaining < a.Remaining {
		out = b
	}
	for _, q := range []provider.Quota{a, b} {
		if resetOf(q, now).After(resetOf(out, now)) {
			out.ResetAt, out.ResetAfter, out.Relative = q.ResetAt, q.ResetAfter, q.Relative
		}
	}
	if out.Limit == 0 {
		out.Limit = max(a.Limit, b.Limit)
	}
	return out
}

// maxCount bounds the counts accepted from headers.
const maxCount = 1 << 53

// parseCount parses a non-negative count. A decimal ("59.0") is truncated.
func parseCount(v string) (int64, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return n, n >= 0 && n <= maxCount
	}
	f, ok := parseDecimal(v)
	if !ok || f > maxCount {
		return 0, false
	}
	return int64(f), true
}

// parseDecimal parses an unsigned decimal number: digits with at most one
// point, no sign or exponent.
func parseDecimal(v string) (float64, bool) {
	if v == "" || strings.Trim(v, "0123456789.") != "" || strings.Count(v, ".") > 1 || v == "." {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// Bounds of a plausible reset: epoch values below epochSeconds are delays,
// values from epochMillis on are milliseconds, and nothing further than
// maxHorizon from now is believed.
const (
	epochSeconds   = 1e9
	epochMillis    = 1e11
	maxEpochMillis = 1e15
	maxHorizon     = 400 * 24 * time.Hour
)

// parseReset reads a reset in any of the forms providers use: an epoch in
// milliseconds or seconds, an RFC 3339 time or an HTTP date (a time), or a
// delay in seconds or a Go-style duration (relative). Anything else is no
// reset.
func parseReset(v string, now time.Time) (at time.Time, after time.Duration, relative bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, 0, false
	}
	if f, isNum := parseDecimal(v); isNum {
		switch {
		case f >= maxEpochMillis:
			return time.Time{}, 0, false
		case f >= epochMillis:
			return bounded(time.UnixMilli(int64(f)), now), 0, false
		case f >= epochSeconds:
			sec, frac := math.Modf(f)
			return bounded(time.Unix(int64(sec), int64(frac*1e9)), now), 0, false
		}
		d, ok := scale(f, time.Second)
		return time.Time{}, d, ok
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 && d <= maxHorizon {
		return time.Time{}, d, true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return bounded(t, now), 0, false
	}
	if t, err := http.ParseTime(v); err == nil {
		return bounded(t, now), 0, false
	}
	return time.Time{}, 0, false
}

// scale converts f units to a duration, refusing anything beyond
// maxHorizon.
func scale(f float64, unit time.Duration) (time.Duration, bool) {
	if f < 0 || f*float64(unit) > float64(maxHorizon) {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

// bounded returns t, or the zero time when it is beyond maxHorizon from
// now.
func bounded(t, now time.Time) time.Time {
	if t.After(now.Add(maxHorizon)) {
		return time.Time{}
	}
	return t
}
