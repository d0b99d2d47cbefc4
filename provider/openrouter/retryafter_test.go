package openrouter

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func ioNopCloser(s string) io.ReadCloser { return io.NopCloser(strings.NewReader(s)) }

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{name: "none", want: 0},
		{name: "seconds", header: map[string]string{"Retry-After": "60"}, want: time.Minute},
		{name: "zero", header: map[string]string{"Retry-After": "0"}, want: 0},
		{name: "padded", header: map[string]string{"Retry-After": " 5 "}, want: 5 * time.Second},
		{name: "fractional seconds", header: map[string]string{"Retry-After": "1.5"}, want: 1500 * time.Millisecond},
		{name: "negative", header: map[string]string{"Retry-After": "-5"}, want: 0},
		{name: "garbage", header: map[string]string{"Retry-After": "soon"}, want: 0},
		{name: "hex", header: map[string]string{"Retry-After": "0x10"}, want: 0},
		{name: "exponent", header: map[string]string{"Retry-After": "1e3"}, want: 0},
		{name: "overflow", header: map[string]string{"Retry-After": "99999999999999999999"}, want: 0},
		{name: "beyond 400 days", header: map[string]string{"Retry-After": "34560001"}, want: 0},
		{name: "two dots", header: map[string]string{"Retry-After": "1.2.3"}, want: 0},
		{name: "http date", header: map[string]string{"Retry-After": fixedNow.Add(90 * time.Second).Format(http.TimeFormat)}, want: 90 * time.Second},
		{name: "rfc850 date", header: map[string]string{"Retry-After": fixedNow.Add(time.Hour).Format(time.RFC850)}, want: time.Hour},
		{name: "past date", header: map[string]string{"Retry-After": fixedNow.Add(-time.Hour).Format(http.TimeFormat)}, want: 0},
		{name: "retry-after-ms", header: map[string]string{"retry-after-ms": "1500"}, want: 1500 * time.Millisecond},
		{name: "x-ms-retry-after-ms", header: map[string]string{"x-ms-retry-after-ms": "250"}, want: 250 * time.Millisecond},
		{name: "the longest hint wins", header: map[string]string{"retry-after-ms": "100", "Retry-After": "9"}, want: 9 * time.Second},
		{name: "the longest hint wins, ms", header: map[string]string{"retry-after-ms": "2500", "Retry-After": "1"}, want: 2500 * time.Millisecond},
		{name: "garbage ms falls back", header: map[string]string{"retry-after-ms": "x", "Retry-After": "9"}, want: 9 * time.Second},
		{name: "negative ms falls back", header: map[string]string{"retry-after-ms": "-1", "x-ms-retry-after-ms": "40"}, want: 40 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			for k, v := range tc.header {
				h.Set(k, v)
			}
			if got := ParseRetryAfter(h, fixedNow); got != tc.want {
				t.Errorf("ParseRetryAfter(%v) = %v, want %v", tc.header, got, tc.want)
			}
		})
	}
}

// TestRetryAfterProperty checks that every well-formed hint is honoured
// exactly and that no header value yields a negative wait.
// Property 7: Adaptive rate limiting.
func TestRetryAfterProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		h := http.Header{}
		var want time.Duration
		switch rapid.IntRange(0, 3).Draw(t, "form") {
		case 0:
			s := rapid.Int64Range(0, int64(maxRetryHint/time.Second)).Draw(t, "seconds")
			h.Set("Retry-After", itoa(s))
			want = time.Duration(s) * time.Second
		case 1:
			s := rapid.Int64Range(-1<<20, 1<<20).Draw(t, "date offset")
			h.Set("Retry-After", fixedNow.Add(time.Duration(s)*time.Second).Format(http.TimeFormat))
			want = max(time.Duration(s)*time.Second, 0)
		case 2:
			ms := rapid.Int64Range(0, int64(maxRetryHint/time.Millisecond)).Draw(t, "ms")
			h.Set(rapid.SampledFrom([]string{"retry-after-ms", "x-ms-retry-after-ms"}).Draw(t, "ms header"), itoa(ms))
			want = time.Duration(ms) * time.Millisecond
		case 3:
			h.Set("Retry-After", rapid.String().Draw(t, "anything"))
			if got := ParseRetryAfter(h, fixedNow); got < 0 {
				t.Fatalf("ParseRetryAfter(%q) = %v < 0", h.Get("Retry-After"), got)
			}
			return
		}
		if got := ParseRetryAfter(h, fixedNow); got != want {
			t.Fatalf("ParseRetryAfter(%v) = %v, want %v", h, got, want)
		}
	})
}

func TestRetryInfo(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want time.Duration
		ok   bool
	}{
		{
			"gemini 429",
			`{"error":{"code":429,"message":"Resource has been exhausted. Please retry in 58.2s.","status":"RESOURCE_EXHAUSTED","details":[
			 {"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaId":"GenerateRequestsPerMinutePerProjectPerModel-FreeTier"}]},
			 {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"58s"}]}}`,
			58 * time.Second, true,
		},
		{"fractional", `[{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]}}]`, 1500 * time.Millisecond, true},
		{"per-day quota", `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"10h17m"}]}}`, 10*time.Hour + 17*time.Minute, true},
		{
			"wrapped by openrouter",
			`{"error":{"code":429,"message":"Provider returned error","metadata":{"provider_name":"Google AI Studio","raw":"{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"7s\"}]}}"}}}`,
			7 * time.Second, true,
		},
		{"no detail", `{"error":{"code":503,"status":"UNAVAILABLE"}}`, 0, false},
		{"bad delay", `{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"-3s"}]}}`, 0, false},
		{"not json", `upstream connect error`, 0, false},
		{"empty", ``, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, ok := retryInfo([]byte(tc.body))
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryInfo = %v, %v; want %v, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}
