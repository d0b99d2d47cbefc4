package monitor

import (
	"slices"
	"time"

	"github.com/councilhq/council/internal/quantile"
)

// Distribution summarises the samples in one window.
//
// The percentiles use the nearest-rank definition of package quantile: with
// the n samples sorted ascending as x[1] <= … <= x[n], the p-th percentile
// is x[ceil(p·n/100)], the smallest sample such that at least p % of the
// samples are at or below it. It is always one of the samples, never an
// interpolation. (For the samples 1…10 it gives p50 = 5 and p90 = 9.) Mean
// is the arithmetic mean of non-negative samples, rounded down to the
// nanosecond. Every field is zero when Count is zero.
type Distribution struct {
	// Count is the number of samples in the window.
	Count int
	Min   time.Duration
	Mean  time.Duration
	P50   time.Duration
	P90   time.Duration
	P95   time.Duration
	P99   time.Duration
	Max   time.Duration
}

// window keeps the most recent samples of one series in a ring buffer of
// fixed capacity, so its memory does not grow with traffic.
type window struct {
	buf  []time.Duration // len grows to cap(buf), then stays
	next int             // where the next sample goes once buf is full
}

// newWindow returns a window that keeps the last size samples.
func newWindow(size int) *window {
	return &window{buf: make([]time.Duration, 0, size)}
}

// add records d, replacing the oldest sample when the window is full.
func (w *window) add(d time.Duration) {
	if len(w.buf) < cap(w.buf) {
		w.buf = append(w.buf, d)
		return
	}
	w.buf[w.next] = d
	w.next = (w.next + 1) % len(w.buf)
}

// samples returns a copy of the samples in the window, in no particular order.
func (w *window) samples() []time.Duration {
	return slices.Clone(w.buf)
}

// distribute sorts samples in place and summarises them.
func distribute(samples []time.Duration) Distribution {
	n := len(samples)
	if n == 0 {
		return Distribution{}
	}
	slices.Sort(samples)
	// The mean is summed as quotients and remainders so that it cannot
	// overflow: sum = n·q + r, so sum/n = q + r/n.
	var q, r time.Duration
	for _, s := range samples {
		q += s / time.Duration(n)
		r += s % time.Duration(n)
	}
	return Distribution{
		Count: n,
		Min:   samples[0],
		Mean:  q + r/time.Duration(n),
		P50:   quantile.Sorted(samples, 50),
		P90:   quantile.Sorted(samples, 90),
		P95:   quantile.Sorted(samples, 95),
		P99:   quantile.Sorted(samples, 99),
		Max:   samples[n-1],
	}
}
