package budget

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/councilhq/council/internal/redistest"
)

// newClient returns a client of srv closed when the test ends.
func newClient(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// TestRedisAddIsAtomic adds from two clients at once: every addition
// counts, and the key expires when its period ends.
func TestRedisAddIsAtomic(t *testing.T) {
	srv := redistest.Start(t)
	a, b := NewRedis(newClient(t, srv), "t:"), NewRedis(newClient(t, srv), "t:")
	ctx := context.Background()
	expires := time.Now().Add(time.Hour).Truncate(time.Second)
	var wg sync.WaitGroup
	for _, s := range []*Redis{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				if _, err := s.Add(ctx, "k", 0.01, expires); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got, err := b.Spent(ctx, "k")
	if err != nil || !near(got, 4) {
		t.Fatalf("Spent = %v, %v; want 4", got, err)
	}
	ttl, err := newClient(t, srv).PExpireTime(ctx, "t:k").Result()
	if err != nil || ttl != time.Duration(expires.UnixMilli())*time.Millisecond {
		t.Errorf("expire time = %v, %v; want %v", ttl, err, expires.UnixMilli())
	}
	if v, err := a.Spent(ctx, "absent"); err != nil || v != 0 {
		t.Errorf("absent key: %v, %v", v, err)
	}
	// A key whose period has already ended is gone at once.
	if _, err := a.Add(ctx, "old", 1, time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _ := newClient(t, srv).Exists(ctx, "t:old").Result(); n != 0 {
		t.Error("a key of an ended period was kept")
	}
}

// TestReplicasShareBudgets runs two Budgets, as two replicas would, on one
// redis-server: what one records the other refuses on, and both see the
// reset.
func TestReplicasShareBudgets(t *testing.T) {
	srv := redistest.Start(t)
	// Redis expires a period's key at the period's end by its own clock,
	// so the fake clock runs ahead of the real one: 23:00 UTC the day
	// after tomorrow.
	clock := &fakeClock{t: time.Now().UTC().Truncate(24 * time.Hour).Add(2*24*time.Hour + 23*time.Hour)}
	ctx := context.Background()
	prefix := "share:" + time.Now().Format("150405.000000") + ":"
	r1 := New(testConfig(), NewRedis(newClient(t, srv), prefix), WithClock(clock.now))
	r2 := New(testConfig(), NewRedis(newClient(t, srv), prefix), WithClock(clock.now))

	r1.Record(ctx, "token-2", 0.6)
	if st := r2.Status(ctx, "token-2"); !near(st.SpentUSD, 0.6) {
		t.Fatalf("replica 2 sees $%v spent, want 0.6", st.SpentUSD)
	}
	r2.Record(ctx, "token-2", 0.5)
	var ex *ExceededError
	if _, err := r1.Check(ctx, "token-2"); !errors.As(err, &ex) || !near(ex.Status.SpentUSD, 1.1) {
		t.Fatalf("replica 1 after $1.1 in all: %v", err)
	}
	if _, err := r2.Check(ctx, "token-2"); err == nil {
		t.Fatal("replica 2 admitted a spent budget")
	}
	clock.advance(time.Hour) // the next day, UTC
	for i, r := range []*Budgets{r1, r2} {
		if st, err := r.Check(ctx, "token-2"); err != nil || st.SpentUSD != 0 {
			t.Errorf("replica %d after the reset: %+v, %v", i+1, st, err)
		}
	}
}

// TestRedisDown: with redis-server stopped each replica counts its own
// spend; once it is back, the shared figure is used again.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	b := New(testConfig(), NewRedis(newClient(t, srv), ""), WithLogger(slog.New(slog.DiscardHandler)))
	b.Record(ctx, "token-2", 0.25)
	srv.Stop()
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	b.Record(tctx, "token-2", 0.5)
	if st := b.Status(tctx, "token-2"); !near(st.SpentUSD, 0.5) {
		t.Errorf("redis down: spent %v, want this replica's 0.5", st.SpentUSD)
	}
	b.Record(tctx, "token-2", 0.5)
	if _, err := b.Check(tctx, "token-2"); err == nil {
		t.Error("redis down: $1 counted locally and still admitted")
	}
	srv.Restart() // no persistence: the shared spend starts again at 0
	if st := b.Status(ctx, "token-2"); !near(st.SpentUSD, 1) {
		t.Errorf("redis back: spent %v, want the local 1", st.SpentUSD)
	}
}
