package limiter

import (
	"encoding/json"
	"strings"
	"time"
)

// maxRetryInfoDepth bounds how deep ParseRetryInfo looks into a body.
const maxRetryInfoDepth = 8

// ParseRetryInfo finds the google.rpc.RetryInfo detail of an error body, as
// Gemini sends with a 429 RESOURCE_EXHAUSTED
// ({"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"58s"}]}}),
// and returns its retry delay. It also looks inside string fields that hold
// JSON, which is how OpenRouter passes a provider's raw error on
// (error.metadata.raw). It reports false when there is no valid delay.
//
// Adapters that see error bodies use it to fill [provider.Error.RetryAfter],
// which the interceptors of this package honour.
func ParseRetryInfo(body []byte) (time.Duration, bool) {
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
// ("58s", "1.500s"), and Go durations ("58.2s", "1m").
func parseProtoDuration(s string) (time.Duration, bool) {
	s = strings.TrimSpace(s)
	if f, ok := parseDecimal(strings.TrimSuffix(s, "s")); ok && strings.HasSuffix(s, "s") {
		return scale(f, time.Second)
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxHorizon {
		return 0, false
	}
	return d, true
}
