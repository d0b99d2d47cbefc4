package consultation_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/eventlog"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/redisconn"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newManager(t *testing.T, l eventlog.Log, grace time.Duration) *consultation.Manager {
	t.Helper()
	m, err := consultation.New(l, consultation.Config{DetachedGrace: grace, RenewEvery: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return m
}

func newRedisLog(t *testing.T, srv *redistest.Server, lease time.Duration) *eventlog.Redis {
	t.Helper()
	rdb, err := redisconn.Open(redisconn.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{Lease: lease})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// script is a consultation of n events; after event pause it waits for
// release (if not nil) or its context.
type script struct {
	n       uint64
	pause   uint64
	release chan struct{}
	calls   int
	mu      sync.Mutex
	cause   error
}

func (s *script) run(ctx context.Context, emit func(eventlog.Entry) error) []byte {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	for seq := uint64(1); seq <= s.n; seq++ {
		if err := emit(eventlog.Entry{Seq: seq, Data: []byte(fmt.Sprintf("e%d", seq))}); err != nil {
			return s.end(err)
		}
		if seq == s.pause && s.release != nil {
			select {
			case <-s.release:
			case <-ctx.Done():
				return s.end(context.Cause(ctx))
			}
		}
	}
	return []byte("ok")
}

func (s *script) end(err error) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cause = err
	return []byte("stopped: " + err.Error())
}

func (s *script) result() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.cause
}

// collector gathers delivered events; it fails after failAfter events when
// that is not zero.
type collector struct {
	mu        sync.Mutex
	got       []eventlog.Entry
	failAfter int
}

var errGone = errors.New("client gone")

func (c *collector) deliver(e eventlog.Entry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failAfter > 0 && len(c.got) == c.failAfter {
		return errGone
	}
	c.got = append(c.got, e)
	return nil
}

func (c *collector) seqs() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []uint64
	for _, e := range c.got {
		out = append(out, e.Seq)
	}
	return out
}

// leaveAfter returns a context cancelled once c holds n events, as a
// client's call context is when it disconnects.
func leaveAfter(t *testing.T, c *collector, n int) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for len(c.seqs()) < n && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	return ctx
}

func checkRun(t *testing.T, got []uint64, from, to uint64) {
	t.Helper()
	if len(got) != int(to-from+1) {
		t.Fatalf("events %v, want %d..%d", got, from, to)
	}
	for i, s := range got {
		if s != from+uint64(i) {
			t.Fatalf("events %v, want %d..%d", got, from, to)
		}
	}
}

func TestConsultRecordsAndFollowReplays(t *testing.T) {
	for name, mk := range map[string]func(t *testing.T) eventlog.Log{
		"memory": func(*testing.T) eventlog.Log { return eventlog.NewMemory(time.Minute) },
		"redis":  func(t *testing.T) eventlog.Log { return newRedisLog(t, redistest.Start(t), time.Second) },
	} {
		t.Run(name, func(t *testing.T) {
			m := newManager(t, mk(t), time.Minute)
			s := &script{n: 6}
			var c collector
			end, err := m.Consult(context.Background(), consultation.Spec{ID: "c1", Owner: "o"}, s.run, c.deliver)
			if err != nil || string(end) != "ok" {
				t.Fatalf("Consult = %q, %v", end, err)
			}
			checkRun(t, c.seqs(), 1, 6)
			var w collector
			end, err = m.Follow(context.Background(), "c1", "o", 2, w.deliver)
			if err != nil || string(end) != "ok" {
				t.Fatalf("Follow = %q, %v", end, err)
			}
			checkRun(t, w.seqs(), 3, 6)
			for i, e := range w.got {
				if !bytes.Equal(e.Data, c.got[i+2].Data) {
					t.Fatalf("replayed %q, delivered %q", e.Data, c.got[i+2].Data)
				}
			}
			if _, err := m.Follow(context.Background(), "c1", "other", 0, w.deliver); !errors.Is(err, consultation.ErrNotFound) {
				t.Fatalf("Follow by another owner = %v, want ErrNotFound", err)
			}
			if _, err := m.Follow(context.Background(), "nope", "o", 0, w.deliver); !errors.Is(err, consultation.ErrNotFound) {
				t.Fatalf("Follow of an unknown id = %v, want ErrNotFound", err)
			}
		})
	}
}

func TestRepeatedRequestIDAttaches(t *testing.T) {
	m := newManager(t, eventlog.NewMemory(time.Minute), time.Minute)
	s := &script{n: 5, pause: 2, release: make(chan struct{})}
	var first collector
	done := make(chan []byte)
	go func() {
		end, _ := m.Consult(context.Background(), consultation.Spec{ID: "c1", Owner: "o", RequestID: "r", Fingerprint: "f"}, s.run, first.deliver)
		done <- end
	}()
	for len(first.seqs()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	var second collector
	attached := make(chan []byte)
	go func() {
		end, err := m.Consult(context.Background(), consultation.Spec{ID: "c2", Owner: "o", RequestID: "r", Fingerprint: "f"}, s.run, second.deliver)
		if err != nil {
			t.Error(err)
		}
		attached <- end
	}()
	if _, err := m.Consult(context.Background(), consultation.Spec{ID: "c3", Owner: "o", RequestID: "r", Fingerprint: "other"}, s.run, second.deliver); !errors.Is(err, consultation.ErrConflict) {
		t.Fatalf("same request id, other request = %v, want ErrConflict", err)
	}
	close(s.release)
	if end := <-done; string(end) != "ok" {
		t.Fatalf("first = %q", end)
	}
	if end := <-attached; string(end) != "ok" {
		t.Fatalf("attached = %q", end)
	}
	checkRun(t, second.seqs(), 1, 5)
	if calls, _ := s.result(); calls != 1 {
		t.Fatalf("ran %d times, want once", calls)
	}
}

func TestDisconnectWithoutRequestIDCancels(t *testing.T) {
	m := newManager(t, eventlog.NewMemory(time.Minute), time.Minute)
	s := &script{n: 5, pause: 3, release: make(chan struct{})}
	var c collector
	end, err := m.Consult(leaveAfter(t, &c, 3), consultation.Spec{ID: "c1"}, s.run, c.deliver)
	if err != nil {
		t.Fatal(err)
	}
	if _, cause := s.result(); !errors.Is(cause, context.Canceled) {
		t.Fatalf("consultation ended with %v (%q), want cancelled by the client's going", cause, end)
	}
	// A failed delivery is a client gone too.
	s = &script{n: 5, pause: 4, release: make(chan struct{})}
	c = collector{failAfter: 3}
	if _, err := m.Consult(context.Background(), consultation.Spec{ID: "c2"}, s.run, c.deliver); err != nil {
		t.Fatal(err)
	}
	if _, cause := s.result(); !errors.Is(cause, errGone) || !errors.Is(cause, context.Canceled) {
		t.Fatalf("consultation ended with %v, want cancelled with the delivery's error", cause)
	}
}

func TestDetachedGrace(t *testing.T) {
	const grace = 300 * time.Millisecond
	t.Run("abandoned", func(t *testing.T) {
		m := newManager(t, eventlog.NewMemory(time.Minute), grace)
		s := &script{n: 5, pause: 3, release: make(chan struct{})}
		var c collector
		ctx := leaveAfter(t, &c, 3)
		start := time.Now()
		_, err := m.Consult(ctx, consultation.Spec{ID: "c1", RequestID: "r"}, s.run, c.deliver)
		if err != nil {
			t.Fatal(err)
		}
		if _, cause := s.result(); !errors.Is(cause, consultation.ErrAbandoned) || !errors.Is(cause, context.Canceled) {
			t.Fatalf("cause %v, want ErrAbandoned", cause)
		}
		if d := time.Since(start); d < grace || d > grace+time.Second {
			t.Fatalf("cancelled after %v, want about %v", d, grace)
		}
	})
	t.Run("watched", func(t *testing.T) {
		m := newManager(t, eventlog.NewMemory(time.Minute), grace)
		s := &script{n: 5, pause: 3, release: make(chan struct{})}
		var c collector
		ctx := leaveAfter(t, &c, 3)
		done := make(chan []byte)
		go func() {
			end, _ := m.Consult(ctx, consultation.Spec{ID: "c1", RequestID: "r"}, s.run, c.deliver)
			done <- end
		}()
		for len(c.seqs()) < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		// A watcher keeps it going past the grace; then it finishes.
		var w collector
		followed := make(chan []byte)
		go func() {
			end, _ := m.Follow(context.Background(), "c1", "", 3, w.deliver)
			followed <- end
		}()
		time.Sleep(3 * grace)
		close(s.release)
		if end := <-done; string(end) != "ok" {
			t.Fatalf("detached consultation ended %q, want ok", end)
		}
		if end := <-followed; string(end) != "ok" {
			t.Fatalf("watcher got %q", end)
		}
		checkRun(t, w.seqs(), 4, 5)
	})
	t.Run("zero grace", func(t *testing.T) {
		m := newManager(t, eventlog.NewMemory(time.Minute), 0)
		s := &script{n: 5, pause: 3, release: make(chan struct{})}
		var c collector
		if _, err := m.Consult(leaveAfter(t, &c, 3), consultation.Spec{ID: "c1", RequestID: "r"}, s.run, c.deliver); err != nil {
			t.Fatal(err)
		}
		if _, cause := s.result(); !errors.Is(cause, context.Canceled) || errors.Is(cause, consultation.ErrAbandoned) {
			t.Fatalf("cause %v, want the client's", cause)
		}
	})
}

func TestCancelAll(t *testing.T) {
	m := newManager(t, eventlog.NewMemory(time.Minute), time.Minute)
	s := &script{n: 5, pause: 1, release: make(chan struct{})}
	var c collector
	stop := errors.New("stopping")
	go func() {
		for len(c.seqs()) < 1 {
			time.Sleep(5 * time.Millisecond)
		}
		m.CancelAll(stop)
	}()
	if _, err := m.Consult(context.Background(), consultation.Spec{ID: "c1", RequestID: "r"}, s.run, c.deliver); err != nil {
		t.Fatal(err)
	}
	if _, cause := s.result(); !errors.Is(cause, stop) {
		t.Fatalf("cause %v, want %v", cause, stop)
	}
}

// A replica that stops renewing mid-consultation (it died): a follower on
// another replica ends with ErrLost within the lease.
func TestFollowOfADeadReplicaIsLost(t *testing.T) {
	srv := redistest.Start(t)
	const lease = 500 * time.Millisecond
	dying, err := consultation.New(newRedisLog(t, srv, lease), consultation.Config{RenewEvery: lease / 3, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, die := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); dying.Run(runCtx) }()
	s := &script{n: 5, pause: 2, release: make(chan struct{})}
	var c collector
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = dying.Consult(context.Background(), consultation.Spec{ID: "c1", Owner: "o", RequestID: "r"}, s.run, c.deliver)
	}()
	for len(c.seqs()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	other := newManager(t, newRedisLog(t, srv, lease), time.Minute)
	var w collector
	followed := make(chan error)
	go func() {
		_, err := other.Follow(context.Background(), "c1", "o", 0, w.deliver)
		followed <- err
	}()
	// Alive while renewed.
	time.Sleep(2 * lease)
	select {
	case err := <-followed:
		t.Fatalf("Follow ended while the replica renewed: %v", err)
	default:
	}
	die()
	<-ran
	start := time.Now()
	err = <-followed
	if !errors.Is(err, consultation.ErrLost) {
		t.Fatalf("Follow = %v, want ErrLost", err)
	}
	if d := time.Since(start); d > lease+eventlog.MaxWait+200*time.Millisecond {
		t.Fatalf("lost after %v, want within the lease (%v) and one wait", d, lease)
	}
	checkRun(t, w.seqs(), 1, 2)
	close(s.release)
	<-done
}

// With Redis gone, consultations still run and deliver every event; they
// are recorded again once it is back.
func TestRedisDownDoesNotStopConsultations(t *testing.T) {
	srv := redistest.Start(t)
	m := newManager(t, newRedisLog(t, srv, time.Second), time.Minute)
	srv.Stop()
	for i := range 3 {
		var c collector
		end, err := m.Consult(context.Background(), consultation.Spec{ID: fmt.Sprint("down", i), RequestID: "r"}, (&script{n: 4}).run, c.deliver)
		if err != nil || string(end) != "ok" {
			t.Fatalf("Consult with Redis down = %q, %v", end, err)
		}
		checkRun(t, c.seqs(), 1, 4)
	}
	srv.Restart()
	time.Sleep(consultation.LogRetryAfter)
	var c collector
	if _, err := m.Consult(context.Background(), consultation.Spec{ID: "up"}, (&script{n: 2}).run, c.deliver); err != nil {
		t.Fatal(err)
	}
	var w collector
	if end, err := m.Follow(context.Background(), "up", "", 0, w.deliver); err != nil || string(end) != "ok" {
		t.Fatalf("Follow after Redis returned = %q, %v", end, err)
	}
}
