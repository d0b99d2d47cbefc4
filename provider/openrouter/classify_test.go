package openrouter

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/provider"
)

// Error bodies as the providers send them (see the wire facts in the spec).
const (
	bodyOpenRouterFreeTier429 = `{"error":{"message":"Rate limit exceeded: free-models-per-day. Add 10 credits to unlock 1000 free model requests per day","code":429,"metadata":{"headers":{"X-RateLimit-Limit":"50","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"1790812800000"},"provider_name":null}},"user_id":"user_123"}`
	bodyOpenRouterProvider429 = `{"error":{"code":429,"message":"Provider returned error","metadata":{"error_type":"rate_limit_exceeded","provider_code":"rate_limit_exceeded","provider_name":"OpenAI","raw":"..."}}}`
	bodyInFlight402           = `{"error":{"code":402,"message":"Request would exceed your in-flight budget","metadata":{"limit_source":"openrouter_in_flight_budget","reason":"in_flight_budget_exhausted"}}}`
	bodyInFlightReason402     = `{"error":{"code":402,"message":"busy","metadata":{"reason":"in_flight_budget_exhausted"}}}`
	bodyCredits402            = `{"error":{"code":402,"message":"This request requires more credits, or fewer max_tokens.","metadata":{"error_type":"payment_required","limit_source":"openrouter_credits","reason":"weight_exceeds_budget"}}}`
	bodyKeyLimit402           = `{"error":{"code":402,"message":"Key limit exceeded","metadata":{"limit_source":"openrouter_key_limit"}}}`
	bodyOpenAIQuota429        = `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`
	bodyOpenAISpend429        = `{"error":{"message":"Organization spend limit exceeded","type":"requests","param":null,"code":"organization_spend_limit_exceeded"}}`
	bodyOpenAIRate429         = `{"error":{"message":"Rate limit reached for gpt-4o-mini on tokens per min (TPM)","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`
	bodyAnthropicRate429      = `{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"},"request_id":"req_1"}`
	bodyAnthropicSpend429     = `{"type":"error","error":{"type":"rate_limit_error","message":"You have reached your monthly spend limit","details":{"error_code":"enforced_spend_limit_reached"}}}`
	bodyAnthropic529          = `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`
	bodyOverloaded503         = `{"error":{"code":503,"message":"Provider is overloaded","metadata":{"error_type":"provider_overloaded","provider_name":"Anthropic"}}}`
	bodyOpenAIOverloaded503   = `{"error":{"message":"The server is overloaded or not ready yet.","type":"server_error","code":"server_is_overloaded"}}`
	bodyUnavailable502        = `{"error":{"code":502,"message":"Provider returned an invalid response","metadata":{"error_type":"provider_unavailable"}}}`
	bodyMasked500             = `{"error":{"code":500,"message":"Internal Server Error"}}`
	bodyOverloaded500         = `{"error":{"code":500,"message":"x","metadata":{"error_type":"provider_overloaded"}}}`
	bodyContextLength400      = `{"error":{"code":400,"message":"This endpoint's maximum context length is 128000 tokens","metadata":{"error_type":"context_length_exceeded","provider_code":"context_length_exceeded"}}}`
	bodyGemini400             = `[{"error":{"code":400,"message":"API key not valid","status":"INVALID_ARGUMENT"}}]`
	bodyAuth401               = `{"error":{"code":401,"message":"No auth credentials found","metadata":{"error_type":"authentication"}}}`
	bodyModeration403         = `{"error":{"code":403,"message":"Input was flagged","metadata":{"reasons":["violence"],"flagged_input":"...","provider_name":"OpenAI","model_slug":"gpt-4o"}}}`
	bodyNotFound404           = `{"error":{"code":404,"message":"No endpoints found for nonexistent/model"}}`
)

func TestStatusClassification(t *testing.T) {
	t.Parallel()
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantKind   provider.Kind
		wantRetry  time.Duration
		wantShared provider.Quota
		upstream   string // text that must reach Err and not Message
	}{
		{name: "400 context length", status: 400, body: bodyContextLength400, wantKind: provider.KindInvalidRequest, upstream: "maximum context length"},
		{name: "400 gemini array body", status: 400, body: bodyGemini400, wantKind: provider.KindInvalidRequest, upstream: "API key not valid"},
		{name: "401", status: 401, body: bodyAuth401, wantKind: provider.KindAuth, upstream: "No auth credentials"},
		{name: "402 in-flight budget", status: 402, header: hdr("Retry-After", "2"), body: bodyInFlight402, wantKind: provider.KindRateLimited, wantRetry: 2 * time.Second, upstream: "in-flight budget"},
		{name: "402 in-flight reason only", status: 402, body: bodyInFlightReason402, wantKind: provider.KindRateLimited},
		{name: "402 credits", status: 402, body: bodyCredits402, wantKind: provider.KindQuota, upstream: "more credits"},
		{name: "402 key limit", status: 402, body: bodyKeyLimit402, wantKind: provider.KindQuota},
		{name: "402 no body", status: 402, wantKind: provider.KindQuota},
		{name: "403 moderation", status: 403, body: bodyModeration403, wantKind: provider.KindAuth, upstream: "flagged"},
		{name: "404", status: 404, body: bodyNotFound404, wantKind: provider.KindInvalidRequest, upstream: "No endpoints"},
		{name: "408", status: 408, wantKind: provider.KindTimeout},
		{name: "413", status: 413, wantKind: provider.KindInvalidRequest},
		{name: "418 other 4xx", status: 418, wantKind: provider.KindInvalidRequest},
		{name: "422", status: 422, wantKind: provider.KindInvalidRequest},
		{
			name: "429 openrouter free tier", status: 429, body: bodyOpenRouterFreeTier429, wantKind: provider.KindRateLimited,
			wantShared: provider.Quota{Announced: true, Limit: 50, Remaining: 0, ResetAt: time.UnixMilli(1790812800000)},
			upstream:   "free-models-per-day",
		},
		{name: "429 openrouter provider with retry-after", status: 429, header: hdr("Retry-After", "60"), body: bodyOpenRouterProvider429, wantKind: provider.KindRateLimited, wantRetry: time.Minute},
		{name: "429 response header wins over body header", status: 429, header: hdr("X-RateLimit-Remaining", "5"), body: bodyOpenRouterFreeTier429, wantKind: provider.KindRateLimited, wantShared: provider.Quota{Announced: true, Limit: 50, Remaining: 5, ResetAt: time.UnixMilli(1790812800000)}},
		{name: "429 retry-after in body headers", status: 429, body: `{"error":{"code":429,"message":"x","metadata":{"headers":{"retry-after":"3"}}}}`, wantKind: provider.KindRateLimited, wantRetry: 3 * time.Second},
		{name: "429 openai insufficient quota", status: 429, body: bodyOpenAIQuota429, wantKind: provider.KindQuota, upstream: "exceeded your current quota"},
		{name: "429 openai spend limit", status: 429, body: bodyOpenAISpend429, wantKind: provider.KindQuota},
		{name: "429 openai rate limit with retry-after-ms", status: 429, header: hdr("Retry-After-Ms", "1500", "X-Ratelimit-Reset-Requests", "1s"), body: bodyOpenAIRate429, wantKind: provider.KindRateLimited, wantRetry: 1500 * time.Millisecond},
		{name: "429 anthropic rate limit", status: 429, header: hdr("Retry-After", "12"), body: bodyAnthropicRate429, wantKind: provider.KindRateLimited, wantRetry: 12 * time.Second},
		{name: "429 anthropic spend limit", status: 429, body: bodyAnthropicSpend429, wantKind: provider.KindQuota},
		{name: "429 x-ms-retry-after-ms", status: 429, header: hdr("X-Ms-Retry-After-Ms", "250"), wantKind: provider.KindRateLimited, wantRetry: 250 * time.Millisecond},
		{name: "429 text body", status: 429, body: "Too Many Requests, slow down", wantKind: provider.KindRateLimited, upstream: "slow down"},
		{name: "500 masked", status: 500, body: bodyMasked500, wantKind: provider.KindUpstream},
		{name: "500 overloaded type", status: 500, body: bodyOverloaded500, wantKind: provider.KindOverloaded},
		{name: "501 other 5xx", status: 501, wantKind: provider.KindUpstream},
		{name: "502 provider unavailable", status: 502, body: bodyUnavailable502, wantKind: provider.KindOverloaded},
		{name: "503 provider overloaded with http-date", status: 503, header: hdr("Retry-After", fixedNow.Add(90*time.Second).Format(http.TimeFormat)), body: bodyOverloaded503, wantKind: provider.KindOverloaded, wantRetry: 90 * time.Second},
		{name: "503 openai server overloaded", status: 503, body: bodyOpenAIOverloaded503, wantKind: provider.KindOverloaded},
		{name: "504", status: 504, wantKind: provider.KindUpstream},
		{name: "529 anthropic overloaded", status: 529, body: bodyAnthropic529, wantKind: provider.KindOverloaded},
		{name: "garbage retry-after ignored", status: 503, header: hdr("Retry-After", "soon"), wantKind: provider.KindOverloaded},
		{name: "negative retry-after ignored", status: 429, header: hdr("Retry-After", "-3"), wantKind: provider.KindRateLimited},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, rawHandler(tc.status, "application/json", tc.body, tc.header))
			_, err := c.Complete(context.Background(), userRequest(func(string) { t.Error("OnDelta called for an error response") }))
			pe := asProviderError(t, err)
			if pe.Kind != tc.wantKind {
				t.Errorf("kind = %v, want %v", pe.Kind, tc.wantKind)
			}
			if pe.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", pe.StatusCode, tc.status)
			}
			if pe.RetryAfter != tc.wantRetry {
				t.Errorf("retry after = %v, want %v", pe.RetryAfter, tc.wantRetry)
			}
			if pe.Streamed {
				t.Error("streamed = true for an error response")
			}
			if tc.wantShared.Announced && !pe.RateLimits.Shared.ResetAt.Equal(tc.wantShared.ResetAt) {
				t.Errorf("shared reset = %v, want %v", pe.RateLimits.Shared.ResetAt, tc.wantShared.ResetAt)
			}
			if got := pe.RateLimits.Shared; tc.wantShared.Announced && (got.Announced != true || got.Limit != tc.wantShared.Limit || got.Remaining != tc.wantShared.Remaining) {
				t.Errorf("shared quota = %+v, want %+v", got, tc.wantShared)
			}
			if pe.Message != statusMessage(tc.status) || !strings.HasPrefix(pe.Message, "upstream returned ") {
				t.Errorf("message = %q, want %q", pe.Message, statusMessage(tc.status))
			}
			if tc.upstream != "" {
				if strings.Contains(pe.Error(), tc.upstream) {
					t.Errorf("upstream text in Error(): %q", pe.Error())
				}
				if pe.Err == nil || !strings.Contains(pe.Err.Error(), tc.upstream) {
					t.Errorf("Err = %v, want it to hold %q", pe.Err, tc.upstream)
				}
			}
		})
	}
}

func TestStatusMessage(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]string{
		429: "upstream returned 429 too many requests",
		529: "upstream returned 529 overloaded",
		599: "upstream returned 599",
	} {
		if got := statusMessage(status); got != want {
			t.Errorf("statusMessage(%d) = %q, want %q", status, got, want)
		}
	}
}

func TestMaxErrorBodyBoundsTheRead(t *testing.T) {
	t.Parallel()
	// The quota code sits past the bound, so only the status is seen.
	body := `{"error":{"message":"` + strings.Repeat("x", 200) + `","code":"insufficient_quota"}}`
	c := newTestClient(t, rawHandler(429, "application/json", body, nil), func(c *Config) { c.MaxErrorBody = 64 })
	_, err := c.Complete(context.Background(), userRequest(nil))
	pe := asProviderError(t, err)
	if pe.Kind != provider.KindRateLimited {
		t.Errorf("kind = %v, want rate_limited (body cut at the bound)", pe.Kind)
	}
	c = newTestClient(t, rawHandler(429, "application/json", body, nil))
	_, err = c.Complete(context.Background(), userRequest(nil))
	if pe := asProviderError(t, err); pe.Kind != provider.KindQuota {
		t.Errorf("kind = %v, want quota with the default bound", pe.Kind)
	}
}

// TestRateLimitHeadersSurface checks that whatever rate-limit headers a 429
// carries in its JSON body, in whatever case, reach Error.RateLimits, so an
// adaptive limiter can act on them. Property 7: Adaptive rate limiting.
func TestRateLimitHeadersSurface(t *testing.T) {
	t.Parallel()
	c, err := New(&http.Client{}, Config{APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return fixedNow }
	rapid.Check(t, func(t *rapid.T) {
		limit := rapid.IntRange(1, 100000).Draw(t, "limit")
		remaining := rapid.IntRange(0, limit).Draw(t, "remaining")
		reset := fixedNow.UnixMilli() + rapid.Int64Range(0, (maxHorizon-time.Hour).Milliseconds()).Draw(t, "reset ms after now")
		retry := rapid.IntRange(0, 86400).Draw(t, "retry-after")
		lower := rapid.Bool().Draw(t, "lowercase keys")
		key := func(k string) string {
			if lower {
				return strings.ToLower(k)
			}
			return k
		}
		body := `{"error":{"code":429,"message":"Rate limit exceeded","metadata":{"headers":{` +
			`"` + key("X-RateLimit-Limit") + `":"` + itoa(int64(limit)) + `",` +
			`"` + key("X-RateLimit-Remaining") + `":` + itoa(int64(remaining)) + `,` +
			`"` + key("X-RateLimit-Reset") + `":"` + itoa(reset) + `",` +
			`"` + key("Retry-After") + `":"` + itoa(int64(retry)) + `"}}}}`
		resp := &http.Response{StatusCode: 429, Header: http.Header{}, Body: ioNopCloser(body)}
		pe := c.statusError(resp)
		if pe.Kind != provider.KindRateLimited {
			t.Fatalf("kind = %v", pe.Kind)
		}
		want := provider.Quota{Announced: true, Limit: int64(limit), Remaining: int64(remaining), ResetAt: time.UnixMilli(reset)}
		if got := pe.RateLimits.Shared; !got.ResetAt.Equal(want.ResetAt) || got.Announced != want.Announced || got.Limit != want.Limit || got.Remaining != want.Remaining {
			t.Fatalf("shared quota = %+v, want %+v", got, want)
		}
		if pe.RetryAfter != time.Duration(retry)*time.Second {
			t.Fatalf("retry after = %v, want %ds", pe.RetryAfter, retry)
		}
	})
}

func TestStreamErrorKind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		raw  string
		want provider.Kind
	}{
		{raw: `null`, want: provider.KindUpstream},
		{raw: `{"code":"server_error","message":"Provider disconnected"}`, want: provider.KindUpstream},
		{raw: `{"code":502,"message":"x"}`, want: provider.KindOverloaded},
		{raw: `{"code":402,"metadata":{"limit_source":"openrouter_in_flight_budget"}}`, want: provider.KindRateLimited},
		{raw: `{"code":"x","metadata":{"reason":"in_flight_budget_exhausted"}}`, want: provider.KindRateLimited},
		{raw: `{"code":"rate_limit_exceeded"}`, want: provider.KindRateLimited},
		{raw: `{"type":"rate_limit_error","details":{"error_code":"enforced_spend_limit_reached"}}`, want: provider.KindQuota},
		{raw: `{"type":"overloaded_error"}`, want: provider.KindOverloaded},
		{raw: `{"status":"UNAVAILABLE"}`, want: provider.KindOverloaded},
		{raw: `{"metadata":{"error_type":"timeout"}}`, want: provider.KindTimeout},
		{raw: `{"metadata":{"error_type":"context_length_exceeded"}}`, want: provider.KindInvalidRequest},
		{raw: `{"metadata":{"error_type":"authentication"}}`, want: provider.KindAuth},
		{raw: `{"code":200,"message":"odd"}`, want: provider.KindUpstream},
		{raw: `"plain text"`, want: provider.KindUpstream},
		{raw: `42`, want: provider.KindUpstream},
	}
	for _, tc := range tests {
		if got := streamErrorKind(parseWireError([]byte(tc.raw))); got != tc.want {
			t.Errorf("streamErrorKind(%s) = %v, want %v", tc.raw, got, tc.want)
		}
	}
}

func TestLongTextErrorBodyIsTruncatedInErr(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, rawHandler(500, "text/html", "<html>"+strings.Repeat("y", 4096)+"</html>", nil))
	_, err := c.Complete(context.Background(), userRequest(nil))
	pe := asProviderError(t, err)
	if pe.Kind != provider.KindUpstream || pe.Err == nil || len(pe.Err.Error()) > 1024 || !strings.Contains(pe.Err.Error(), "<html>") {
		t.Errorf("got kind %v, Err %v; want upstream with a short excerpt of the body", pe.Kind, pe.Err)
	}
}
