package retry

import (
	"math"
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	t.Parallel()
	const base, ceiling = time.Second, 30 * time.Second
	for n := range 64 {
		for _, u := range []float64{0, 0.5, 0.999999} {
			d := backoff(n, base, ceiling, u)
			step := time.Duration(math.Min(float64(base)*math.Pow(2, float64(n)), float64(ceiling)))
			if d < step || d > step+step/2 {
				t.Fatalf("backoff(%d, u=%v) = %v, want within [%v, %v]", n, u, d, step, step+step/2)
			}
		}
	}
}
