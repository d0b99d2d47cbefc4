package openrouter

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// retryAfter returns the wait a response asks for, or 0. It honours, in
// order, retry-after-ms and x-ms-retry-after-ms (milliseconds) and the
// standard Retry-After (delay-seconds or an HTTP-date, measured from now).
// Negative, unparseable and absurdly large values are ignored.
func retryAfter(h http.Header, now time.Time) time.Duration {
	for _, k := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		if d, ok := parseDelay(h.Get(k), time.Millisecond); ok {
			return d
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if d, ok := parseDelay(v, time.Second); ok {
		return d
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// parseDelay parses a non-negative decimal number of units ("60", "1.5").
func parseDelay(v string, unit time.Duration) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" || strings.Trim(v, "0123456789.") != "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f*float64(unit) >= math.MaxInt64 {
		return 0, false
	}
	return time.Duration(f * float64(unit)), true
}
