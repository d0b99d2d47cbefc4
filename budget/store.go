package budget

import (
	"context"
	"sync"
	"time"
)

// Store keeps the spend of each caller and period. Implementations must be
// safe for concurrent use.
type Store interface {
	// Spent returns the spend recorded under key, 0 when there is none.
	Spent(ctx context.Context, key string) (float64, error)
	// Add adds usd to the spend under key, which is kept until expires,
	// and returns the new total. It is atomic: concurrent Adds to one key,
	// from any process sharing the store, all count.
	Add(ctx context.Context, key string, usd float64, expires time.Time) (float64, error)
}

// Memory is a [Store] in the process's memory. Keys past their expiry are
// dropped when spend is added, at most once a minute. The zero value is
// not usable; call [NewMemory].
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	entries   map[string]memoryEntry
	nextPrune time.Time
}

// pruneEvery is how often Add looks for expired keys to drop.
const pruneEvery = time.Minute

type memoryEntry struct {
	usd     float64
	expires time.Time
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty Memory whose keys expire by the clock now;
// nil means time.Now.
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, entries: make(map[string]memoryEntry)}
}

// Spent returns the spend under key; an expired key has none. It never
// fails.
func (m *Memory) Spent(_ context.Context, key string) (float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.entries[key]
	if !ok || !m.now().Before(e.expires) {
		return 0, nil
	}
	return e.usd, nil
}

// Add adds usd to key's spend and drops expired keys. It never fails.
func (m *Memory) Add(_ context.Context, key string, usd float64, expires time.Time) (float64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if !now.Before(m.nextPrune) {
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
		m.nextPrune = now.Add(pruneEvery)
	}
	e, ok := m.entries[key]
	if !ok || !now.Before(e.expires) {
		e = memoryEntry{}
	}
	e.usd += usd
	e.expires = expires
	m.entries[key] = e
	return e.usd, nil
}

// Len is the number of keys held, expired ones not yet dropped included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
