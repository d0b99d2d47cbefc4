package retry

import (
	"github.com/councilhq/council/internal/clock"
	"sync"
	"time"
)

// throttle is the retry budget, kept per key: over a sliding window,
// retries may number at most ratio times the calls made (first attempts),
// or floor, whichever is more, so a quiet key can still retry. Under a
// storm where every attempt fails, n calls make at most max(floor, ratio·n)
// retries per window, so upstream traffic stays within (1+ratio)·n once n
// passes floor/ratio, whatever the concurrency; a burst of calls earns its
// own budget before its failures come back. The window is two fixed halves:
// counts are the current half's plus the previous one's.
type throttle struct {
	ratio  float64
	floor  float64
	window time.Duration
	clock  clock.Clock
	mu     sync.Mutex
	keys   map[string]*retryCounts
}

// retryCounts counts one key's calls and retries in the current and previous
// half-window.
type retryCounts struct {
	start          time.Time
	calls, retries [2]float64 // [previous, current]
}

func newThrottle(ratio float64, floor int, window time.Duration, clk clock.Clock) *throttle {
	return &throttle{ratio: ratio, floor: float64(floor), window: window, clock: clk, keys: make(map[string]*retryCounts)}
}

// get returns key's budget with its halves rolled forward to now.
// Called with t.mu held.
func (t *throttle) get(key string) *retryCounts {
	now := t.clock.Now()
	b, ok := t.keys[key]
	if !ok {
		b = &retryCounts{start: now}
		t.keys[key] = b
	}
	half := t.window / 2
	for n := 0; now.Sub(b.start) >= half && n < 2; n++ {
		b.calls = [2]float64{b.calls[1], 0}
		b.retries = [2]float64{b.retries[1], 0}
		b.start = b.start.Add(half)
	}
	if now.Sub(b.start) >= half {
		b.start = now
	}
	return b
}

// started books a call's first attempt.
func (t *throttle) started(key string) {
	if t.ratio <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.get(key).calls[1]++
}

// failed books a retryable failure of key and reports whether a retry may
// follow it. A paced failure (one whose retry the provider timed) does not
// spend the budget, but is not retried while the budget is spent either.
func (t *throttle) failed(key string, paced bool) bool {
	if t.ratio <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.get(key)
	retries := b.retries[0] + b.retries[1]
	if retries+1 > max(t.floor, t.ratio*(b.calls[0]+b.calls[1])) {
		return false
	}
	if !paced {
		b.retries[1]++
	}
	return true
}
