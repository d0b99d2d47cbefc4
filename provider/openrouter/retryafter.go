package openrouter

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxRetryHint is the longest wait a hint may ask for and still be believed;
// longer values are ignored as absurd.
const maxRetryHint = 400 * 24 * time.Hour

// ParseRetryAfter returns the wait a response's headers ask for, or 0: the
// longest of retry-after-ms and x-ms-retry-after-ms (milliseconds) and the
// standard Retry-After (delay-seconds or an HTTP-date, measured from now).
// Waiting for the shortest would only draw another 429. Negative,
// unparseable and absurdly large values are ignored.
func ParseRetryAfter(h http.Header, now time.Time) time.Duration {
	var longest time.Duration
	consider := func(d time.Duration, ok bool) {
		if ok && d <= maxRetryHint {
			longest = max(longest, d)
		}
	}
	for _, k := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		consider(parseDelay(h.Get(k), time.Millisecond))
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if d, ok := parseDelay(v, time.Second); ok {
		consider(d, true)
	} else if t, err := http.ParseTime(v); err == nil {
		consider(max(t.Sub(now), 0), true)
	}
	return longest
}

// parseDelay parses a non-negative decimal number of units ("60", "1.5"),
// exactly for whole numbers.
func parseDelay(v string, unit time.Duration) (time.Duration, bool) {
	whole, frac, _ := strings.Cut(strings.TrimSpace(v), ".")
	if whole+frac == "" || strings.Trim(whole+frac, "0123456789") != "" {
		return 0, false
	}
	var n int64
	if whole != "" {
		var err error
		if n, err = strconv.ParseInt(whole, 10, 64); err != nil || n >= math.MaxInt64/int64(unit) {
			return 0, false
		}
	}
	d := time.Duration(n) * unit
	if frac != "" {
		f, err := strconv.ParseFloat("0."+frac, 64)
		if err != nil {
			return 0, false
		}
		d += time.Duration(f * float64(unit))
	}
	return d, true
}

// maxRetryInfoDepth bounds how deep retryInfo looks into a body.
const maxRetryInfoDepth = 8

// retryInfo finds the google.rpc.RetryInfo detail of an error body, as
// Gemini sends with a 429 RESOURCE_EXHAUSTED
// ({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"58s"}]}}),
// and returns its retry delay. It also looks inside string fields that hold
// JSON, which is how OpenRouter passes a provider's raw error on
// (error.metadata.raw). It reports false when there is no valid delay.
func retryInfo(body []byte) (time.Duration, bool) {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return 0, false
	}
	return findRetryInfo(v, 0)
}

func findRetryInfo(v any, depth int) (time.Duration, bool) {
	if depth > maxRetryInfoDepth {
		return 0, false
	}
	switch x := v.(type) {
	case map[string]any:
		if t, _ := x["@type"].(string); strings.HasSuffix(t, "google.rpc.RetryInfo") {
			if s, ok := x["retryDelay"].(string); ok {
				return parseProtoDuration(s)
			}
		}
		for _, e := range x {
			if d, ok := findRetryInfo(e, depth+1); ok {
				return d, true
			}
		}
	case []any:
		for _, e := range x {
			if d, ok := findRetryInfo(e, depth+1); ok {
				return d, true
			}
		}
	case string:
		if s := strings.TrimSpace(x); strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") {
			var inner any
			if json.Unmarshal([]byte(s), &inner) == nil {
				return findRetryInfo(inner, depth+1)
			}
		}
	}
	return 0, false
}

// parseProtoDuration parses the JSON form of google.protobuf.Duration
// ("58s", "1.500s"), and Go durations ("58.2s", "10h17m").
func parseProtoDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if d, ok := parseDelay(strings.TrimSuffix(s, "s"), time.Second); ok && strings.HasSuffix(s, "s") {
		return d, true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}
