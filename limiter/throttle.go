package limiter

import "sync"

// throttle is the retry budget of gRPC's retry throttling (gRFC A6), kept
// per key: a key starts with max tokens, a retryable failure takes one, a
// success gives back ratio, and retries are allowed only while more than
// half the tokens are left. Under a storm where every attempt fails, a key
// makes at most about max/2 retries in all, so the traffic of n calls stays
// near n. Keys at full budget are not stored.
type throttle struct {
	max, ratio float64
	mu         sync.Mutex
	tokens     map[string]float64
}

func newThrottle(max, ratio float64) *throttle {
	return &throttle{max: max, ratio: ratio, tokens: make(map[string]float64)}
}

// failed books a retryable failure of key and reports whether a retry may
// follow it. A paced failure (one whose retry the provider timed) takes no
// token, but is not retried while the budget is spent either.
func (t *throttle) failed(key string, paced bool) bool {
	if t.max <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.tokens[key]
	if paced {
		return !ok || n > t.max/2
	}
	if !ok {
		n = t.max
	}
	n = max(n-1, 0)
	t.tokens[key] = n
	return n > t.max/2
}

// succeeded books a success of key.
func (t *throttle) succeeded(key string) {
	if t.max <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	n, ok := t.tokens[key]
	if !ok {
		return
	}
	if n += t.ratio; n >= t.max {
		delete(t.tokens, key)
		return
	}
	t.tokens[key] = n
}
