package openrouter_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

var now = time.Date(2026, 9, 27, 12, 0, 0, 0, time.UTC)

func hdr(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// quota is an announced quota resetting at reset: as a delay from now
// when relative, else as a time.
func quota(limit, remaining int64, reset time.Time, relative bool) provider.Quota {
	q := provider.Quota{Announced: true, Limit: limit, Remaining: remaining}
	if relative {
		q.Relative, q.ResetAfter = true, reset.Sub(now)
	} else {
		q.ResetAt = reset
	}
	return q
}

func sharedOnly(q provider.Quota) provider.RateLimits { return provider.RateLimits{Shared: q} }

func requestsOnly(q provider.Quota) provider.RateLimits {
	var s provider.RateLimits
	s.Quotas[provider.Requests] = q
	return s
}

func TestParseRateLimits(t *testing.T) {
	t.Parallel()
	midnight := time.Date(2026, 9, 28, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		h    http.Header
		want provider.RateLimits
	}{
		{"none", hdr(), provider.RateLimits{}},
		{"unrelated headers", hdr("Content-Type", "text/event-stream", "X-Generation-Id", "gen-1"), provider.RateLimits{}},
		{
			"openrouter epoch ms",
			hdr("X-RateLimit-Limit", "50", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1790553600000"),
			sharedOnly(quota(50, 0, time.UnixMilli(1790553600000), false)),
		},
		{
			"names not canonicalised",
			http.Header{"x-ratelimit-limit": {"20"}, "x-ratelimit-remaining": {"3"}, "x-ratelimit-reset": {"1790553600000"}},
			sharedOnly(quota(20, 3, time.UnixMilli(1790553600000), false)),
		},
		{
			"openrouter canonicalised from the error body",
			hdr("x-ratelimit-limit", "20", "x-ratelimit-remaining", "3", "x-ratelimit-reset", "1790553600000"),
			sharedOnly(quota(20, 3, time.UnixMilli(1790553600000), false)),
		},
		{
			"epoch seconds",
			hdr("X-RateLimit-Remaining", "7", "X-RateLimit-Reset", strconvI(midnight.Unix())),
			sharedOnly(quota(0, 7, midnight, false)),
		},
		{
			"delay seconds",
			hdr("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "9", "X-RateLimit-Reset", "30"),
			sharedOnly(quota(10, 9, now.Add(30*time.Second), true)),
		},
		{
			"ietf draft",
			hdr("RateLimit-Limit", "100", "RateLimit-Remaining", "42", "RateLimit-Reset", "2.5"),
			sharedOnly(quota(100, 42, now.Add(2500*time.Millisecond), true)),
		},
		{
			"remaining above limit is clamped",
			hdr("X-RateLimit-Limit", "10", "X-RateLimit-Remaining", "15", "X-RateLimit-Reset", "1"),
			sharedOnly(quota(10, 10, now.Add(time.Second), true)),
		},
		{
			"remaining without reset",
			hdr("X-RateLimit-Remaining", "4"),
			sharedOnly(quota(0, 4, time.Time{}, false)),
		},
		{"limit without remaining", hdr("X-RateLimit-Limit", "4", "X-RateLimit-Reset", "1"), provider.RateLimits{}},
		{"negative remaining", hdr("X-RateLimit-Remaining", "-1", "X-RateLimit-Reset", "1"), provider.RateLimits{}},
		{"garbage remaining", hdr("X-RateLimit-Remaining", "lots", "X-RateLimit-Reset", "1"), provider.RateLimits{}},
		{
			"decimal remaining is truncated",
			hdr("X-RateLimit-Remaining", "59.0", "X-RateLimit-Reset", "1"),
			sharedOnly(quota(0, 59, now.Add(time.Second), true)),
		},
		{
			"garbage reset keeps the count",
			hdr("X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "soon"),
			sharedOnly(quota(0, 5, time.Time{}, false)),
		},
		{
			"reset beyond any horizon is ignored",
			hdr("X-RateLimit-Remaining", "5", "X-RateLimit-Reset", "99999999999999999"),
			sharedOnly(quota(0, 5, time.Time{}, false)),
		},
		{
			"openai requests and tokens",
			hdr("x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59", "x-ratelimit-reset-requests", "1s",
				"x-ratelimit-limit-tokens", "150000", "x-ratelimit-remaining-tokens", "149984", "x-ratelimit-reset-tokens", "6m0s"),
			func() provider.RateLimits {
				s := requestsOnly(quota(60, 59, now.Add(time.Second), true))
				s.Quotas[provider.Tokens] = quota(150000, 149984, now.Add(6*time.Minute), true)
				return s
			}(),
		},
		{
			"openai milliseconds",
			hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "12ms"),
			requestsOnly(quota(0, 0, now.Add(12*time.Millisecond), true)),
		},
		{
			"groq fractional duration",
			hdr("x-ratelimit-limit-requests", "14400", "x-ratelimit-remaining-requests", "14370", "x-ratelimit-reset-requests", "2m59.56s"),
			requestsOnly(quota(14400, 14370, now.Add(2*time.Minute+59560*time.Millisecond), true)),
		},
		{
			"anthropic every bucket",
			hdr("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "49", "anthropic-ratelimit-requests-reset", "2026-09-27T12:00:01Z",
				"anthropic-ratelimit-tokens-limit", "90000", "anthropic-ratelimit-tokens-remaining", "89000", "anthropic-ratelimit-tokens-reset", "2026-09-27T12:00:06Z",
				"anthropic-ratelimit-input-tokens-limit", "40000", "anthropic-ratelimit-input-tokens-remaining", "39500", "anthropic-ratelimit-input-tokens-reset", "2026-09-27T07:00:03-05:00",
				"anthropic-ratelimit-output-tokens-limit", "8000", "anthropic-ratelimit-output-tokens-remaining", "7500", "anthropic-ratelimit-output-tokens-reset", "2026-09-27T12:00:00.5Z"),
			func() provider.RateLimits {
				s := requestsOnly(quota(50, 49, now.Add(time.Second), false))
				s.Quotas[provider.Tokens] = quota(90000, 89000, now.Add(6*time.Second), false)
				s.Quotas[provider.InputTokens] = quota(40000, 39500, now.Add(3*time.Second), false)
				s.Quotas[provider.OutputTokens] = quota(8000, 7500, now.Add(500*time.Millisecond), false)
				return s
			}(),
		},
		{
			"anthropic retry-after on a 429",
			hdr("anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", "2026-09-27T12:00:20Z", "retry-after", "20"),
			func() provider.RateLimits {
				s := requestsOnly(quota(50, 0, now.Add(20*time.Second), false))
				s.RetryAfter = 20 * time.Second
				return s
			}(),
		},
		{
			"tighter of two forms of the same budget wins",
			hdr("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "80", "X-RateLimit-Reset", "10",
				"RateLimit-Limit", "100", "RateLimit-Remaining", "5", "RateLimit-Reset", "2"),
			sharedOnly(quota(100, 5, now.Add(10*time.Second), true)),
		},
		{
			"key and model budgets side by side",
			hdr("X-RateLimit-Limit", "100", "X-RateLimit-Remaining", "80", "X-RateLimit-Reset", "10",
				"x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "5", "x-ratelimit-reset-requests", "2s"),
			func() provider.RateLimits {
				s := requestsOnly(quota(60, 5, now.Add(2*time.Second), true))
				s.Shared = quota(100, 80, now.Add(10*time.Second), true)
				return s
			}(),
		},
		{"retry-after seconds", hdr("Retry-After", "60"), provider.RateLimits{RetryAfter: time.Minute}},
		{"retry-after zero", hdr("Retry-After", "0"), provider.RateLimits{}},
		{"retry-after http date", hdr("Retry-After", "Sun, 27 Sep 2026 12:00:42 GMT"), provider.RateLimits{RetryAfter: 42 * time.Second}},
		{"retry-after in the past", hdr("Retry-After", "Sun, 27 Sep 2026 11:00:00 GMT"), provider.RateLimits{}},
		{"retry-after negative", hdr("Retry-After", "-5"), provider.RateLimits{}},
		{"retry-after garbage", hdr("Retry-After", "later"), provider.RateLimits{}},
		{"retry-after-ms", hdr("retry-after-ms", "1500"), provider.RateLimits{RetryAfter: 1500 * time.Millisecond}},
		{"x-ms-retry-after-ms", hdr("x-ms-retry-after-ms", "250"), provider.RateLimits{RetryAfter: 250 * time.Millisecond}},
		{"the longest retry hint wins", hdr("Retry-After", "2", "retry-after-ms", "2500"), provider.RateLimits{RetryAfter: 2500 * time.Millisecond}},
		{"date", hdr("Date", "Sun, 27 Sep 2026 11:59:58 GMT"), provider.RateLimits{Date: now.Add(-2 * time.Second)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := openrouter.ParseRateLimits(tc.h, now)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRateLimits mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseRateLimits checks that no header value makes the parser panic or
// announce something impossible.
func FuzzParseRateLimits(f *testing.F) {
	for _, seed := range [][3]string{
		{"20", "0", "1790812800000"}, {"60", "59", "6m0s"}, {"50", "49", "2026-09-27T12:05:00-05:00"},
		{"1", "1", "Wed, 21 Oct 2015 07:28:00 GMT"}, {"", "3", "2.5"}, {"9e99", "1.5.5", "1e400"}, {"-1", "-1", "-1"},
	} {
		f.Add(seed[0], seed[1], seed[2], "30")
	}
	f.Fuzz(func(t *testing.T, limit, remaining, reset, retry string) {
		for _, names := range [][3]string{
			{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"},
			{"x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"},
			{"anthropic-ratelimit-output-tokens-limit", "anthropic-ratelimit-output-tokens-remaining", "anthropic-ratelimit-output-tokens-reset"},
		} {
			h := hdr(names[0], limit, names[1], remaining, names[2], reset, "Retry-After", retry, "retry-after-ms", retry)
			s := openrouter.ParseRateLimits(h, now)
			for r, q := range append(s.Quotas[:], s.Shared) {
				if !q.Announced {
					if q != (provider.Quota{}) {
						t.Fatalf("%v: unannounced quota carries values: %+v", provider.Resource(r), q)
					}
					continue
				}
				if q.Remaining < 0 || q.Limit < 0 || (q.Limit > 0 && q.Remaining > q.Limit) {
					t.Fatalf("%v: impossible quota %+v", provider.Resource(r), q)
				}
				if !q.ResetAt.IsZero() && q.ResetAt.After(now.Add(401*24*time.Hour)) {
					t.Fatalf("%v: reset %v beyond the horizon", provider.Resource(r), q.ResetAt)
				}
				if q.Relative && (q.ResetAfter < 0 || q.ResetAfter > 401*24*time.Hour || !q.ResetAt.IsZero()) {
					t.Fatalf("%v: impossible relative reset %+v", provider.Resource(r), q)
				}
			}
			if d := openrouter.ParseRetryAfter(h, now); d < 0 || d > 401*24*time.Hour {
				t.Fatalf("retry after %v beyond the horizon", d)
			}
		}
	})
}

func strconvI(n int64) string { return strconv.FormatInt(n, 10) }
