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
