package limiter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Resource is a quantity a provider meters per window.
type Resource int

// Metered resources. Requests is what every dialect announces; the token
// resources come from OpenAI (Tokens) and Anthropic (all three).
const (
	Requests Resource = iota
	Tokens
	InputTokens
	OutputTokens
	// NumResources is the number of resources, the length of [Signal.Quotas].
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
	// Reset is when the budget is back in full, or the zero time when not
	// announced.
	Reset time.Time
	// Relative is true when Reset was announced as a delay ("6m0s", "30")
	// and is therefore measured from the time given to [ParseHeaders].
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
	// (Retry-After and its millisecond variants), or the zero time.
	RetryAt time.Time
	// Date is the provider's clock when it answered, from the Date header
	// (whole seconds), or the zero time.
	Date time.Time
}

// ParseHeaders reads the rate-limit headers of a response received at now.
// It understands every dialect the service meets:
//
//   - OpenRouter and the common form: X-RateLimit-Limit, -Remaining and
//     -Reset, where Reset is an epoch in milliseconds (OpenRouter; on 429s
//     only, and copied into error.metadata.headers), an epoch in seconds,
//     or a delay in seconds; also the IETF RateLimit-Limit/-Remaining/-Reset.
//     These describe the budget of the provider key ([Signal.Shared]).
//   - OpenAI (and Groq): x-ratelimit-{limit,remaining,reset}-{requests,tokens},
//     the reset being a delay such as "1s", "6m0s" or "2m59.56s".
//   - Anthropic: anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset},
//     the reset an RFC 3339 time.
//   - Retry-After as delay-seconds or an HTTP date, and the millisecond
//     variants retry-after-ms and x-ms-retry-after-ms.
//
// The other dialects describe the model's own budgets ([Signal.Quotas]).
// Every reset form is accepted in every header, so a provider that mixes
// them is still understood. Where two headers describe the same budget the
// tighter one (less remaining, later reset) wins. Malformed, negative and
// absurd values are ignored; ParseHeaders never fails. Header names are
// matched case-insensitively.
func ParseHeaders(h http.Header, now time.Time) Signal {
	var s Signal
	if len(h) == 0 {
		return s
	}
	s.Shared = tighter(parseQuota(h, now, "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"),
		parseQuota(h, now, "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"))
	req := &s.Quotas[Requests]
	*req = tighter(*req, parseQuota(h, now, "X-RateLimit-Limit-Requests", "X-RateLimit-Remaining-Requests", "X-RateLimit-Reset-Requests"))
	tok := &s.Quotas[Tokens]
	*tok = tighter(*tok, parseQuota(h, now, "X-RateLimit-Limit-Tokens", "X-RateLimit-Remaining-Tokens", "X-RateLimit-Reset-Tokens"))
	for r, name := range [...]string{Requests: "requests", Tokens: "tokens", InputTokens: "input-tokens", OutputTokens: "output-tokens"} {
		p := "Anthropic-Ratelimit-" + name + "-"
		s.Quotas[r] = tighter(s.Quotas[r], parseQuota(h, now, p+"Limit", p+"Remaining", p+"Reset"))
	}
	s.RetryAt = retryAt(h, now)
	if d, err := http.ParseTime(get(h, "Date")); err == nil {
		s.Date = d
	}
	return s
}

// parseQuota reads one limit/remaining/reset triple; without a valid
// remaining count nothing is announced.
func parseQuota(h http.Header, now time.Time, limitKey, remainingKey, resetKey string) Quota {
	rem, ok := parseCount(get(h, remainingKey))
	if !ok {
		return Quota{}
	}
	q := Quota{Announced: true, Remaining: rem}
	if l, ok := parseCount(get(h, limitKey)); ok && l > 0 {
		q.Limit = l
		q.Remaining = min(q.Remaining, l)
	}
	q.Reset, q.Relative, _ = parseReset(get(h, resetKey), now)
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

// tighter combines two announcements of the same resource: the one with
// less remaining wins, and the later reset is kept.
func tighter(a, b Quota) Quota {
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
	if a.Reset.After(out.Reset) {
		out.Reset, out.Relative = a.Reset, a.Relative
	}
	if b.Reset.After(out.Reset) {
		out.Reset, out.Relative = b.Reset, b.Relative
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

// parseReset reads a reset time in any of the forms providers use: an epoch
// in milliseconds or seconds, a delay in seconds, a Go-style duration, an
// RFC 3339 time or an HTTP date. relative reports a delay measured from now.
func parseReset(v string, now time.Time) (t time.Time, relative, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, false, false
	}
	if f, isNum := parseDecimal(v); isNum {
		switch {
		case f >= maxEpochMillis:
			return time.Time{}, false, false
		case f >= epochMillis:
			return bounded(time.UnixMilli(int64(f)), now, false)
		case f >= epochSeconds:
			sec, frac := math.Modf(f)
			return bounded(time.Unix(int64(sec), int64(frac*1e9)), now, false)
		}
		d, ok := scale(f, time.Second)
		if !ok {
			return time.Time{}, false, false
		}
		return delay(now, d)
	}
	if d, err := time.ParseDuration(v); err == nil {
		return delay(now, d)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return bounded(t, now, false)
	}
	if t, err := http.ParseTime(v); err == nil {
		return bounded(t, now, false)
	}
	return time.Time{}, false, false
}

// scale converts f units to a duration, refusing anything beyond maxHorizon.
func scale(f float64, unit time.Duration) (time.Duration, bool) {
	if f < 0 || f*float64(unit) > float64(maxHorizon) {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}

func delay(now time.Time, d time.Duration) (time.Time, bool, bool) {
	if d < 0 || d > maxHorizon {
		return time.Time{}, false, false
	}
	return now.Add(d), true, true
}

func bounded(t, now time.Time, relative bool) (time.Time, bool, bool) {
	if t.After(now.Add(maxHorizon)) {
		return time.Time{}, false, false
	}
	return t, relative, true
}

// retryAt reads Retry-After (delay-seconds or HTTP date) and the
// millisecond variants; when several are present the latest wins.
func retryAt(h http.Header, now time.Time) time.Time {
	var at time.Time
	later := func(t time.Time) {
		if t.After(at) {
			at = t
		}
	}
	for _, k := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if f, ok := parseDecimal(strings.TrimSpace(get(h, k))); ok {
			if d, ok := scale(f, time.Millisecond); ok {
				later(now.Add(d))
			}
		}
	}
	v := strings.TrimSpace(get(h, "Retry-After"))
	if f, ok := parseDecimal(v); ok {
		if d, ok := scale(f, time.Second); ok {
			later(now.Add(d))
		}
	} else if t, err := http.ParseTime(v); err == nil {
		if t, _, ok := bounded(t, now, false); ok {
			later(t)
		}
	}
	return at
}
