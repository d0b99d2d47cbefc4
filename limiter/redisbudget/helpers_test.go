package redisbudget_test

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/councilhq/council/internal/clock"
	"github.com/councilhq/council/internal/syncbuf"

	"github.com/redis/go-redis/v9"

	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/limiter/redisbudget"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/redisconn"
)

// epoch is where fake clocks start: a whole second, so that epoch-ms and
// RFC 3339 resets are exact.
var epoch = time.Date(2026, 9, 27, 12, 0, 0, 0, time.UTC)

// prefixes gives every store of a test run its own keys.
var prefixes atomic.Int64

func newPrefix() string {
	return "test" + strconv.FormatInt(prefixes.Add(1), 10) + ":"
}

// client opens a client of srv as councild does.
func client(t testing.TB, srv *redistest.Server) *redis.Client {
	t.Helper()
	rdb, err := redisconn.Open(redisconn.Config{URL: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// newStore returns a store closed when the test ends.
func newStore(t testing.TB, rdb *redis.Client, o redisbudget.Options) *redisbudget.Store {
	t.Helper()
	s, err := redisbudget.New(rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func logger(w *syncbuf.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(w, nil)) }

// result is what a scripted upstream answers.
type result struct {
	header http.Header
	err    *provider.Error
}

// upstream is a scripted provider: each call takes the next result of the
// script (the last one repeats), records when it arrived, and lasts hold
// on the clock.
type upstream struct {
	clk    clock.Clock
	hold   time.Duration
	mu     sync.Mutex
	script []result
	calls  []time.Time
	active int
	peak   int
}

func (u *upstream) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	u.mu.Lock()
	n := len(u.calls)
	u.calls = append(u.calls, u.clk.Now())
	u.active++
	u.peak = max(u.peak, u.active)
	r := u.script[min(n, len(u.script)-1)]
	u.mu.Unlock()
	if u.hold > 0 {
		t := u.clk.NewTimer(u.hold)
		<-t.C()
	}
	u.mu.Lock()
	u.active--
	u.mu.Unlock()
	now := u.clk.Now()
	if r.err != nil {
		e := *r.err
		if r.header != nil {
			e.RateLimits = openrouter.ParseRateLimits(r.header, now)
			e.RetryAfter = max(e.RetryAfter, openrouter.ParseRetryAfter(r.header, now))
		}
		return nil, &e
	}
	return &provider.Response{Model: req.Model, Content: "ok", RateLimits: openrouter.ParseRateLimits(r.header, now)}, nil
}

func (u *upstream) times() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.calls...)
}

func request(model string) *provider.Request {
	return &provider.Request{
		Model:    model,
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "What is the capital of France?"}},
	}
}

// replicas returns n limiters sharing budgets through one Redis, each
// with its own store, as n replicas of councild do, and a function that
// closes the stores.
func replicas(t interface{ Fatal(...any) }, rdb *redis.Client, n int, clk clock.Clock, opts ...limiter.Option) ([]*limiter.Limiter, func()) {
	prefix := newPrefix()
	ls := make([]*limiter.Limiter, n)
	stores := make([]*redisbudget.Store, n)
	for i := range ls {
		s, err := redisbudget.New(rdb, redisbudget.Options{Prefix: prefix, Now: clk.Now})
		if err != nil {
			t.Fatal(err)
		}
		stores[i] = s
		ls[i] = limiter.New(append([]limiter.Option{limiter.WithClock(clk), limiter.WithStore(s)}, opts...)...)
	}
	return ls, func() {
		for _, s := range stores {
			_ = s.Close()
		}
	}
}
