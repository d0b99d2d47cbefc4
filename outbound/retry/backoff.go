package retry

import "time"

// backoffStep is the un-jittered delay before retry n (0-based): base
// doubled n times, capped at ceiling.
func backoffStep(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// backoff is the delay before retry n: its step plus a jitter of u (in
// [0, 1)) times half the step, so 1 s, 2 s, 4 s, 8 s … each lengthened by up
// to 50 %, as the design's "Rate Limit Errors" strategy asks.
func backoff(n int, base, ceiling time.Duration, u float64) time.Duration {
	step := backoffStep(n, base, ceiling)
	return step + time.Duration(u*float64(step/2))
}
