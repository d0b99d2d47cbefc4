package limiter

import "sync"

// inflight caps the calls in flight per provider key. Each key gets a
// semaphore of capacity n on first use; they are few (one per provider
// credential) and kept for the limiter's life.
type inflight struct {
	n   int
	mu  sync.Mutex
	sem map[string]chan struct{}
}

// slot returns the semaphore of key, or nil when there is no cap.
func (f *inflight) slot(key string) chan struct{} {
	if f.n <= 0 {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.sem[key]
	if !ok {
		if f.sem == nil {
			f.sem = make(map[string]chan struct{})
		}
		s = make(chan struct{}, f.n)
		f.sem[key] = s
	}
	return s
}
