package budget

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// testConfig: a default of $1 a day, token-1 $10 a month.
func testConfig() Config {
	return Config{Default: &Limit{USD: 1, Period: Day}, Callers: map[string]Limit{"token-1": {USD: 10, Period: Month}}}
}

// TestRunOutAndReset spends a daily budget, is refused until midnight UTC,
// and passes again once the day has turned.
func TestRunOutAndReset(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 22, 0, 0, 0, time.UTC)}
	b := New(testConfig(), nil, WithClock(clock.now))
	ctx := context.Background()

	st, err := b.Check(ctx, "token-2")
	if err != nil || st.Budget != DefaultName || !near(st.RemainingUSD(), 1) || st.ResetIn != 2*time.Hour {
		t.Fatalf("fresh: %+v, %v", st, err)
	}
	b.Record(ctx, "token-2", 0.4)
	st = b.Record(ctx, "token-2", 0.35)
	if !near(st.SpentUSD, 0.75) || !near(st.RemainingUSD(), 0.25) {
		t.Fatalf("after $0.75: %+v", st)
	}
	if _, err := b.Check(ctx, "token-2"); err != nil {
		t.Fatalf("refused with $0.25 left: %v", err)
	}
	b.Record(ctx, "token-2", 0.3) // overshoot of a consultation already running
	clock.advance(90 * time.Minute)
	st, err = b.Check(ctx, "token-2")
	var ex *ExceededError
	if !errors.As(err, &ex) {
		t.Fatalf("spent budget passed: %+v, %v", st, err)
	}
	if ex.Status.Budget != DefaultName || ex.Status.Caller != "token-2" || !near(ex.Status.SpentUSD, 1.05) || ex.Status.RemainingUSD() != 0 ||
		ex.Status.ResetIn != 30*time.Minute || !ex.Status.ResetAt.Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("exceeded: %+v", ex.Status)
	}
	// Another caller on the default budget has its own spend.
	if _, err := b.Check(ctx, "token-3"); err != nil {
		t.Errorf("token-3 refused for token-2's spend: %v", err)
	}
	if got := b.Remaining(); !near(got["token-2"], 0) || !near(got["token-3"], 1) {
		t.Errorf("Remaining = %v", got)
	}

	clock.advance(30 * time.Minute) // midnight UTC
	if got := b.Remaining(); !near(got["token-2"], 1) {
		t.Errorf("Remaining after the reset = %v, want the whole budget", got)
	}
	st, err = b.Check(ctx, "token-2")
	if err != nil || st.SpentUSD != 0 || st.ResetIn != 24*time.Hour {
		t.Errorf("after the reset: %+v, %v", st, err)
	}
}

func TestMonthlyBudgetAndNoBudget(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	b := New(Config{Callers: map[string]Limit{"token-1": {USD: 10, Period: Month}}}, NewMemory(clock.now), WithClock(clock.now))
	ctx := context.Background()
	b.Record(ctx, "token-1", 10)
	if _, err := b.Check(ctx, "token-1"); err == nil {
		t.Fatal("a spent monthly budget passed")
	}
	clock.advance(11 * time.Hour) // 23:00 on the 30th: still November
	if _, err := b.Check(ctx, "token-1"); err == nil {
		t.Fatal("the monthly budget reset before the month ended")
	}
	clock.advance(time.Hour)
	if st, err := b.Check(ctx, "token-1"); err != nil || st.SpentUSD != 0 {
		t.Errorf("December: %+v, %v", st, err)
	}

	// No default: other callers have no budget, and nothing is recorded.
	st := b.Record(ctx, "token-2", 100)
	if st.Limited() {
		t.Errorf("token-2 got a budget: %+v", st)
	}
	if _, err := b.Check(ctx, "token-2"); err != nil {
		t.Errorf("a caller without a budget was refused: %v", err)
	}
}

func TestZeroBudgetRefuses(t *testing.T) {
	b := New(Config{Default: &Limit{USD: 0, Period: Day}}, nil)
	if _, err := b.Check(context.Background(), "x"); err == nil {
		t.Error("a budget of $0 let a caller through")
	}
}

// failingStore fails every call while down.
type failingStore struct {
	Store
	mu   sync.Mutex
	down bool
}

func (f *failingStore) setDown(d bool) { f.mu.Lock(); f.down = d; f.mu.Unlock() }

func (f *failingStore) isDown() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.down }

func (f *failingStore) Spent(ctx context.Context, key string) (float64, error) {
	if f.isDown() {
		return 0, errors.New("store down")
	}
	return f.Store.Spent(ctx, key)
}

func (f *failingStore) Add(ctx context.Context, key string, usd float64, expires time.Time) (float64, error) {
	if f.isDown() {
		return 0, errors.New("store down")
	}
	return f.Store.Add(ctx, key, usd, expires)
}

// TestStoreFailure: while the store fails, the replica counts what it
// records itself, and adds it to the store's figure once the store is back.
func TestStoreFailure(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	store := &failingStore{Store: NewMemory(clock.now)}
	var logs strings.Builder
	b := New(testConfig(), store, WithClock(clock.now), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	ctx := context.Background()
	b.Record(ctx, "token-2", 0.5)
	store.setDown(true)
	b.Record(ctx, "token-2", 0.3)
	if st := b.Status(ctx, "token-2"); !near(st.SpentUSD, 0.3) {
		t.Errorf("store down: spent %v, want this replica's 0.3", st.SpentUSD)
	}
	b.Record(ctx, "token-2", 0.3)
	if _, err := b.Check(ctx, "token-2"); err != nil {
		t.Errorf("store down, $0.6 counted: %v", err)
	}
	b.Record(ctx, "token-2", 0.5)
	if _, err := b.Check(ctx, "token-2"); err == nil {
		t.Error("store down: $1.1 counted locally and still admitted")
	}
	store.setDown(false)
	if st := b.Status(ctx, "token-2"); !near(st.SpentUSD, 1.6) {
		t.Errorf("store back: spent %v, want 0.5 + 1.1", st.SpentUSD)
	}
	b.Record(ctx, "token-2", 0.1)
	if w, i := strings.Count(logs.String(), "level=WARN"), strings.Count(logs.String(), "answers again"); w != 1 || i != 1 {
		t.Errorf("the outage was logged with %d warnings and %d recoveries, want 1 and 1:\n%s", w, i, logs.String())
	}
}

func TestMemoryExpiry(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	m := NewMemory(clock.now)
	ctx := context.Background()
	if v, _ := m.Add(ctx, "a", 1, clock.now().Add(time.Hour)); v != 1 {
		t.Fatalf("Add = %v", v)
	}
	if v, _ := m.Add(ctx, "a", 2, clock.now().Add(time.Hour)); v != 3 {
		t.Fatalf("Add = %v", v)
	}
	clock.advance(time.Hour)
	if v, _ := m.Spent(ctx, "a"); v != 0 {
		t.Errorf("expired key still spent %v", v)
	}
	_, _ = m.Add(ctx, "b", 1, clock.now().Add(time.Hour))
	if m.Len() != 1 {
		t.Errorf("expired keys kept: %d keys", m.Len())
	}
	// Within the minute after a prune, expired keys stay but count nothing.
	_, _ = m.Add(ctx, "c", 1, clock.now().Add(time.Second))
	clock.advance(time.Second)
	if v, _ := m.Add(ctx, "c", 5, clock.now().Add(time.Hour)); v != 5 {
		t.Errorf("Add to an expired key = %v, want a fresh 5", v)
	}
	clock.advance(time.Hour)
	_, _ = m.Add(ctx, "d", 1, clock.now().Add(time.Hour))
	if m.Len() != 1 {
		t.Errorf("expired keys kept past the prune: %d keys", m.Len())
	}
}
