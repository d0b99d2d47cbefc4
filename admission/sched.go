package admission

import (
	"math"
	"runtime/metrics"
	"time"
)

// schedLatencyMetric is the Go runtime's histogram of the time goroutines
// spend runnable before they run.
const schedLatencyMetric = "/sched/latencies:seconds"

// SchedDelay reads the scheduler latency histogram and reports a quantile
// of the latencies recorded since its previous call. It is not safe for
// concurrent use.
type SchedDelay struct {
	sample []metrics.Sample
	prev   []uint64
}

// NewSchedDelay returns a SchedDelay whose first window starts now.
func NewSchedDelay() *SchedDelay {
	d := &SchedDelay{sample: []metrics.Sample{{Name: schedLatencyMetric}}}
	d.Next(0)
	return d
}

// Next returns the q-quantile (0 < q ≤ 1) of the scheduler latencies
// recorded since the previous call, as the upper bound of the histogram
// bucket it falls in, and 0 when none were recorded.
func (d *SchedDelay) Next(q float64) time.Duration {
	metrics.Read(d.sample)
	if d.sample[0].Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := d.sample[0].Value.Float64Histogram()
	if len(d.prev) != len(h.Counts) {
		d.prev = make([]uint64, len(h.Counts))
	}
	delta := make([]uint64, len(h.Counts))
	var total uint64
	for i, c := range h.Counts {
		delta[i] = c - d.prev[i]
		total += delta[i]
	}
	copy(d.prev, h.Counts)
	return quantile(delta, h.Buckets, total, q)
}

// quantile returns the upper bound of the bucket holding the q-quantile
// of counts (bucket i spans buckets[i] to buckets[i+1]); an unbounded last
// bucket reports its lower bound.
func quantile(counts []uint64, buckets []float64, total uint64, q float64) time.Duration {
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var seen uint64
	for i, c := range counts {
		if seen += c; seen >= rank {
			bound := buckets[i+1]
			if math.IsInf(bound, 1) {
				bound = buckets[i]
			}
			return time.Duration(bound * float64(time.Second))
		}
	}
	return time.Duration(buckets[len(buckets)-1] * float64(time.Second))
}
