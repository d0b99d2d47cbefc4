package eventlog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/councilhq/council/eventlog"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/redisconn"
)

// backends runs f against each Log implementation: the in-memory ring and
// Redis on a real redis-server.
func backends(t *testing.T, f func(t *testing.T, l eventlog.Log)) {
	t.Run("memory", func(t *testing.T) { f(t, eventlog.NewMemory(time.Minute)) })
	t.Run("redis", func(t *testing.T) {
		rdb := startRedis(t)
		l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{Retention: time.Minute, Lease: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		f(t, l)
	})
}

func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	srv := redistest.Start(t)
	rdb, err := redisconn.Open(redisconn.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

func data(seq uint64) []byte { return []byte(fmt.Sprintf("event %d \x00\xff", seq)) }

// fill creates id and appends events 1..n.
func fill(t *testing.T, l eventlog.Log, info eventlog.Info, n uint64) {
	t.Helper()
	ctx := context.Background()
	if _, created, err := l.Create(ctx, info); err != nil || !created {
		t.Fatalf("Create = %v, %v; want created", created, err)
	}
	for seq := uint64(1); seq <= n; seq++ {
		if err := l.Append(ctx, info.ID, eventlog.Entry{Seq: seq, Data: data(seq)}); err != nil {
			t.Fatalf("Append %d: %v", seq, err)
		}
	}
}

func checkEntries(t *testing.T, got []eventlog.Entry, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("got %d entries, want %d..%d", len(got), from, to)
	}
	for i, e := range got {
		if want := from + uint64(i); e.Seq != want || !bytes.Equal(e.Data, data(want)) {
			t.Fatalf("entry %d = %d %q, want %d %q", i, e.Seq, e.Data, want, data(want))
		}
	}
}

func TestReplayThenEnd(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		ctx := context.Background()
		fill(t, l, eventlog.Info{ID: "c1", Owner: "token-1"}, 5)
		b, err := l.Read(ctx, "c1", 0, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, b.Entries, 1, 5)
		if b.Ended || b.Lost || b.Owner != "token-1" {
			t.Fatalf("running log: %+v", b)
		}
		b, _ = l.Read(ctx, "c1", 3, 1, 0)
		checkEntries(t, b.Entries, 4, 4)
		end := []byte("status \x00 bytes")
		if err := l.End(ctx, "c1", end); err != nil {
			t.Fatal(err)
		}
		b, err = l.Read(ctx, "c1", 3, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, b.Entries, 4, 5)
		if !b.Ended || !bytes.Equal(b.End, end) || b.Lost {
			t.Fatalf("ended log: %+v", b)
		}
		// A limited read stops before the end.
		if b, _ = l.Read(ctx, "c1", 3, 1, 0); b.Ended {
			t.Fatalf("read of one entry of two got the end: %+v", b)
		}
		if b, _ = l.Read(ctx, "c1", 5, 0, 0); !b.Ended || len(b.Entries) != 0 {
			t.Fatalf("read after the last event: %+v", b)
		}
		if err := l.Append(ctx, "c1", eventlog.Entry{Seq: 6}); !errors.Is(err, eventlog.ErrEnded) {
			t.Fatalf("Append after End = %v, want ErrEnded", err)
		}
		if err := l.End(ctx, "c1", end); !errors.Is(err, eventlog.ErrEnded) {
			t.Fatalf("End twice = %v, want ErrEnded", err)
		}
	})
}

func TestAppendChecksTheSequence(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		ctx := context.Background()
		fill(t, l, eventlog.Info{ID: "c1"}, 2)
		for _, seq := range []uint64{0, 2, 4} {
			if err := l.Append(ctx, "c1", eventlog.Entry{Seq: seq}); !errors.Is(err, eventlog.ErrSequence) {
				t.Errorf("Append %d after 2 = %v, want ErrSequence", seq, err)
			}
		}
		if err := l.Append(ctx, "nope", eventlog.Entry{Seq: 1}); !errors.Is(err, eventlog.ErrNotFound) {
			t.Errorf("Append to unknown = %v, want ErrNotFound", err)
		}
		if _, err := l.Read(ctx, "nope", 0, 0, 0); !errors.Is(err, eventlog.ErrNotFound) {
			t.Errorf("Read of unknown = %v, want ErrNotFound", err)
		}
	})
}

func TestReadWaitsForTheNextEvent(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		ctx := context.Background()
		fill(t, l, eventlog.Info{ID: "c1"}, 1)
		start := time.Now()
		b, err := l.Read(ctx, "c1", 1, 0, 200*time.Millisecond)
		if err != nil || len(b.Entries) != 0 || b.Ended || b.Lost {
			t.Fatalf("Read with nothing new = %+v, %v", b, err)
		}
		if d := time.Since(start); d < 150*time.Millisecond {
			t.Fatalf("Read returned after %v, want it to wait", d)
		}
		done := make(chan eventlog.Batch)
		go func() {
			b, _ := l.Read(ctx, "c1", 1, 0, eventlog.MaxWait)
			done <- b
		}()
		time.Sleep(100 * time.Millisecond)
		start = time.Now()
		if err := l.Append(ctx, "c1", eventlog.Entry{Seq: 2, Data: data(2)}); err != nil {
			t.Fatal(err)
		}
		b = <-done
		checkEntries(t, b.Entries, 2, 2)
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("waiting Read woke %v after the append", d)
		}
		go func() {
			b, _ := l.Read(ctx, "c1", 2, 0, eventlog.MaxWait)
			done <- b
		}()
		time.Sleep(100 * time.Millisecond)
		if err := l.End(ctx, "c1", []byte("ok")); err != nil {
			t.Fatal(err)
		}
		if b := <-done; !b.Ended || string(b.End) != "ok" {
			t.Fatalf("waiting Read at the end = %+v", b)
		}
	})
}

func TestCreateClaimsTheRequestIDOnce(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		ctx := context.Background()
		first := eventlog.Info{ID: "c1", Owner: "token-1", RequestID: "r", Fingerprint: "fp1"}
		fill(t, l, first, 0)
		got, created, err := l.Create(ctx, eventlog.Info{ID: "c2", Owner: "token-1", RequestID: "r", Fingerprint: "fp2"})
		if err != nil || created || got != first {
			t.Fatalf("Create with a used request id = %+v, %v, %v; want %+v", got, created, err, first)
		}
		// Another owner's request ids are its own.
		fill(t, l, eventlog.Info{ID: "c3", Owner: "token-2", RequestID: "r"}, 0)
		// Without a request id nothing is claimed.
		fill(t, l, eventlog.Info{ID: "c4", Owner: "token-1"}, 0)
		fill(t, l, eventlog.Info{ID: "c5", Owner: "token-1"}, 0)
		// An id cannot be created twice.
		if _, created, err := l.Create(ctx, eventlog.Info{ID: "c4"}); created || err == nil {
			t.Fatalf("Create of an existing id = %v, %v", created, err)
		}
		// The claim outlives the end, for the retention.
		if err := l.End(ctx, "c1", nil); err != nil {
			t.Fatal(err)
		}
		if got, created, _ := l.Create(ctx, eventlog.Info{ID: "c6", Owner: "token-1", RequestID: "r"}); created || got.ID != "c1" {
			t.Fatalf("Create after the end = %+v, %v; want c1", got, created)
		}
	})
}

// Many replicas racing to create one request id: exactly one wins, and all
// the others are told its id.
func TestConcurrentCreatesClaimOnce(t *testing.T) {
	rdb := startRedis(t)
	const replicas = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		seen    = map[string]int{}
	)
	for i := range replicas {
		l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("c%d", i)
			got, created, err := l.Create(context.Background(), eventlog.Info{ID: id, Owner: "o", RequestID: "r", Fingerprint: "f"})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			if created {
				winners = append(winners, id)
			}
			seen[got.ID]++
		}()
	}
	wg.Wait()
	if len(winners) != 1 || seen[winners[0]] != replicas {
		t.Fatalf("winners %v, ids returned %v", winners, seen)
	}
}

func TestMemoryRetentionTrims(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	l := eventlog.NewMemory(time.Minute, eventlog.WithClock(clock), eventlog.WithCapacity(3))
	fill(t, l, eventlog.Info{ID: "old", Owner: "o", RequestID: "r"}, 2)
	if err := l.End(ctx, "old", nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(59 * time.Second)
	if _, err := l.Read(ctx, "old", 0, 0, 0); err != nil {
		t.Fatalf("Read within the retention: %v", err)
	}
	fill(t, l, eventlog.Info{ID: "running"}, 1)
	now = now.Add(2 * time.Second)
	if _, err := l.Read(ctx, "old", 0, 0, 0); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("Read past the retention = %v, want ErrNotFound", err)
	}
	// The claim went with it.
	if _, created, _ := l.Create(ctx, eventlog.Info{ID: "new", Owner: "o", RequestID: "r"}); !created {
		t.Fatal("request id still claimed after the retention")
	}
	// A running log is never trimmed; ended ones beyond the capacity are,
	// oldest first.
	now = now.Add(time.Hour)
	for i := range 5 {
		id := fmt.Sprintf("e%d", i)
		fill(t, l, eventlog.Info{ID: id}, 0)
		if err := l.End(ctx, id, nil); err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Len(); got != 2+3 {
		t.Fatalf("Len = %d, want 2 running + 3 ended", got)
	}
	for i, want := range []bool{false, false, true, true, true} {
		_, err := l.Read(ctx, fmt.Sprintf("e%d", i), 0, 0, 0)
		if (err == nil) != want {
			t.Errorf("e%d kept = %v, want %v", i, err == nil, want)
		}
	}
	if _, err := l.Read(ctx, "running", 0, 0, 0); err != nil {
		t.Errorf("running log trimmed: %v", err)
	}
}

func TestRedisKeysExpire(t *testing.T) {
	ctx := context.Background()
	rdb := startRedis(t)
	l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{Retention: 300 * time.Millisecond, Lease: 200 * time.Millisecond, Prefix: "t:"})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, eventlog.Info{ID: "c1", Owner: "o", RequestID: "r"}, 3)
	if _, err := l.Read(ctx, "c1", 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := l.End(ctx, "c1", []byte("end")); err != nil {
		t.Fatal(err)
	}
	keys, err := rdb.Keys(ctx, "t:*").Result()
	if err != nil || len(keys) != 4 {
		t.Fatalf("keys after the end = %v, %v; want hash, stream, claim and reader mark", keys, err)
	}
	for _, k := range keys {
		if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 0 || ttl > 3*time.Second {
			t.Errorf("%s expires in %v", k, ttl)
		}
	}
	time.Sleep(400 * time.Millisecond)
	if _, err := l.Read(ctx, "c1", 0, 0, 0); !errors.Is(err, eventlog.ErrNotFound) {
		t.Fatalf("Read past the retention = %v, want ErrNotFound", err)
	}
	time.Sleep(eventlog.WatchMark)
	if keys := rdb.Keys(ctx, "t:*").Val(); len(keys) != 0 {
		t.Fatalf("keys left after the retention: %v", keys)
	}
	if _, created, _ := l.Create(ctx, eventlog.Info{ID: "c2", Owner: "o", RequestID: "r"}); !created {
		t.Fatal("request id still claimed after the retention")
	}
}

func TestRedisLeaseExpiryIsLost(t *testing.T) {
	ctx := context.Background()
	rdb := startRedis(t)
	l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{Lease: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, eventlog.Info{ID: "renewed"}, 2)
	fill(t, l, eventlog.Info{ID: "dead"}, 2)
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		if err := l.Renew(ctx, []string{"renewed"}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := l.Read(ctx, "renewed", 0, 0, 0)
	if err != nil || b.Lost {
		t.Fatalf("renewed log = %+v, %v", b, err)
	}
	// The dead one still gives its events, then says it is lost.
	if b, err = l.Read(ctx, "dead", 0, 1, 0); err != nil || b.Lost || len(b.Entries) != 1 {
		t.Fatalf("first event of a dead log = %+v, %v", b, err)
	}
	if b, err = l.Read(ctx, "dead", 0, 0, 0); err != nil || !b.Lost || len(b.Entries) != 2 {
		t.Fatalf("dead log = %+v, %v", b, err)
	}
	start := time.Now()
	if b, err = l.Read(ctx, "dead", 2, 0, time.Second); err != nil || !b.Lost || time.Since(start) > 100*time.Millisecond {
		t.Fatalf("waiting on a dead log = %+v, %v after %v", b, err, time.Since(start))
	}
	// A retry of the dead consultation's request id runs it again; a
	// live or ended one's is still claimed.
	fill(t, l, eventlog.Info{ID: "dead-claim", Owner: "o", RequestID: "r"}, 1)
	fill(t, l, eventlog.Info{ID: "ended-claim", Owner: "o", RequestID: "r2"}, 1)
	if err := l.End(ctx, "ended-claim", nil); err != nil {
		t.Fatal(err)
	}
	if got, created, err := l.Create(ctx, eventlog.Info{ID: "retry", Owner: "o", RequestID: "r"}); err != nil || created || got.ID != "dead-claim" {
		t.Fatalf("Create while the first lives = %+v, %v, %v", got, created, err)
	}
	time.Sleep(400 * time.Millisecond)
	if got, created, err := l.Create(ctx, eventlog.Info{ID: "retry", Owner: "o", RequestID: "r"}); err != nil || !created || got.ID != "retry" {
		t.Fatalf("Create after the first was lost = %+v, %v, %v; want a new consultation", got, created, err)
	}
	if got, created, _ := l.Create(ctx, eventlog.Info{ID: "retry2", Owner: "o", RequestID: "r2"}); created || got.ID != "ended-claim" {
		t.Fatalf("Create of an ended consultation's request id = %+v, %v", got, created)
	}
	// Renew does not revive an ended log.
	if err := l.End(ctx, "renewed", nil); err != nil {
		t.Fatal(err)
	}
	if err := l.Renew(ctx, []string{"renewed"}); err != nil {
		t.Fatal(err)
	}
	if b, _ := l.Read(ctx, "renewed", 2, 0, 0); !b.Ended || b.Lost {
		t.Fatalf("ended log after Renew = %+v", b)
	}
}

func TestWatchedMarksReaders(t *testing.T) {
	backends(t, func(t *testing.T, l eventlog.Log) {
		ctx := context.Background()
		fill(t, l, eventlog.Info{ID: "c1"}, 1)
		if w, err := l.Watched(ctx, "c1"); err != nil || w {
			t.Fatalf("Watched before any read = %v, %v", w, err)
		}
		if _, err := l.Read(ctx, "c1", 0, 0, 0); err != nil {
			t.Fatal(err)
		}
		if w, err := l.Watched(ctx, "c1"); err != nil || !w {
			t.Fatalf("Watched after a read = %v, %v", w, err)
		}
	})
}

// Past MaxBlockingReads, waiting readers poll instead of holding pooled
// connections, and still see new events promptly; writes go through.
func TestRedisBoundsBlockingReads(t *testing.T) {
	ctx := context.Background()
	rdb := startRedis(t)
	l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{MaxBlockingReads: 2})
	if err != nil {
		t.Fatal(err)
	}
	fill(t, l, eventlog.Info{ID: "c1"}, 1)
	const readers = 8
	got := make(chan eventlog.Batch, readers)
	for range readers {
		go func() {
			b, _ := l.Read(ctx, "c1", 1, 0, eventlog.MaxWait)
			for len(b.Entries) == 0 {
				b, _ = l.Read(ctx, "c1", 1, 0, eventlog.MaxWait)
			}
			got <- b
		}()
	}
	time.Sleep(300 * time.Millisecond)
	clients, err := rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(clients, "cmd=xread"); n != 2 {
		t.Fatalf("%d connections blocked in XREAD for %d waiting readers, want 2:\n%s", n, readers, clients)
	}
	start := time.Now()
	if err := l.Append(ctx, "c1", eventlog.Entry{Seq: 2, Data: data(2)}); err != nil {
		t.Fatal(err)
	}
	for range readers {
		checkEntries(t, (<-got).Entries, 2, 2)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("readers saw the event after %v", d)
	}
}
