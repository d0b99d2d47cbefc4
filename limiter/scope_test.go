package limiter_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/event"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// scopedProvider admits limit requests per fixed window, either per model
// or shared by every model (perModel, which a test may change), counting
// a request when it arrives and answering it latency later. Every answer
// announces the budget per model, in OpenAI's dialect (a delay) or
// Anthropic's (an RFC 3339 time, and Retry-After on a 429), so the headers
// never tell the scope. It records every exchange.
type scopedProvider struct {
	anthropic bool
	limit     int
	window    time.Duration
	minLat    time.Duration
	spread    time.Duration

	mu       sync.Mutex
	perModel bool
	rng      *rand.Rand
	admitted map[limitertest.Slot]int
	log      []exchange
}

// exchange is one request: when it was sent and answered, and whether it
// was refused.
type exchange struct {
	sent, done time.Time
	model      string
	limited    bool
}

func (p *scopedProvider) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	p.mu.Lock()
	now := time.Now()
	start := now.Truncate(p.window)
	reset := start.Add(p.window)
	slot := limitertest.Slot{Start: start}
	if p.perModel {
		slot.Budget = req.Model
	}
	ok := p.admitted[slot] < p.limit
	if ok {
		p.admitted[slot]++
	}
	rem := p.limit - p.admitted[slot]
	lat := p.minLat
	if p.spread > 0 {
		lat += time.Duration(p.rng.Int64N(int64(p.spread)))
	}
	p.mu.Unlock()

	h := http.Header{}
	if p.anthropic {
		h.Set("anthropic-ratelimit-requests-limit", strconv.Itoa(p.limit))
		h.Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(rem))
		h.Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339Nano))
		h.Set("Date", now.Format(http.TimeFormat))
		if !ok {
			h.Set("Retry-After", strconv.Itoa(int((reset.Sub(now)+time.Second-1)/time.Second)))
		}
	} else {
		h.Set("x-ratelimit-limit-requests", strconv.Itoa(p.limit))
		h.Set("x-ratelimit-remaining-requests", strconv.Itoa(rem))
		h.Set("x-ratelimit-reset-requests", reset.Sub(now).String())
	}
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	p.mu.Lock()
	p.log = append(p.log, exchange{sent: now, done: time.Now(), model: req.Model, limited: !ok})
	p.mu.Unlock()
	if !ok {
		return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests, RateLimits: openrouter.ParseRateLimits(h, time.Now()), Message: "upstream returned 429"}
	}
	return &provider.Response{Model: req.Model, Content: "ok", RateLimits: openrouter.ParseRateLimits(h, time.Now())}, nil
}

// refusedAfter counts the requests sent strictly after since, and the 429s
// among them.
func (p *scopedProvider) refusedAfter(since time.Time) (sent, refused int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ex := range p.log {
		if ex.sent.After(since) {
			sent++
			if ex.limited {
				refused++
			}
		}
	}
	return sent, refused
}

// firstRefusal returns when the first 429 came back, or the zero time.
func (p *scopedProvider) firstRefusal() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, ex := range p.log {
		if ex.limited && (first.IsZero() || ex.done.Before(first)) {
			first = ex.done
		}
	}
	return first
}

// scopeRun is one run of a scopeLoad: callers that each make calls, one
// after another, to models in turn, through Retry and a Limiter whose
// events are recorded.
type scopeRun struct {
	p   *scopedProvider
	c   provider.Completer
	rec recorder

	mu     sync.Mutex
	failed int
}

func newScopeRun(p *scopedProvider) *scopeRun {
	r := &scopeRun{p: p}
	r.c = provider.Chain(p,
		retry.New(retry.WithBackoff(p.window/50, 0), retry.WithMaxRetries(10), retry.WithBudget(0, 0, 0)),
		limiter.New(limiter.WithObserver(&r.rec)).Interceptor())
	return r
}

// run starts callers actors that each make calls calls, the i-th to model
// i mod models, and waits for all of them.
func (r *scopeRun) run(callers, calls, models int) {
	var wg sync.WaitGroup
	for c := range callers {
		wg.Go(func() {
			for i := range calls {
				_, err := r.c.Complete(context.Background(), request(fmt.Sprintf("vendor/model-%d", (c+i)%models)))
				if err != nil {
					r.mu.Lock()
					r.failed++
					r.mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
}

// scopes returns the scopes the limiter changed to, in order.
func (r *scopeRun) scopes() []string { return r.rec.scopes() }

// scopes returns the scopes of the EventScope events recorded, in order.
func (r *recorder) scopes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Kind == event.Scope {
			out = append(out, e.Scope)
		}
	}
	return out
}

// scopeLoad is a drawn run: a provider, its limit per window (per model
// or shared by every model), models called in turn and callers.
type scopeLoad struct {
	perModel                          bool
	anthropic                         bool
	limit, models, callers, calls     int
	offset, minLatency, latencySpread time.Duration
	seed                              uint64
}

// drawScopeLoad draws a provider of either dialect with a limit of 2 to 12
// requests per second, 2 to 6 models, callers enough to keep every model
// busy and a latency of 0 to 300 ms; windows is about how many windows the
// calls need.
func drawScopeLoad(rt *rapid.T, perModel bool, windows int) scopeLoad {
	w := scopeLoad{
		perModel:      perModel,
		anthropic:     rapid.Bool().Draw(rt, "anthropic"),
		limit:         rapid.IntRange(2, 12).Draw(rt, "limit"),
		models:        rapid.IntRange(2, 6).Draw(rt, "models"),
		offset:        time.Duration(rapid.IntRange(0, 999).Draw(rt, "start ms")) * time.Millisecond,
		minLatency:    time.Duration(rapid.IntRange(0, 100).Draw(rt, "min latency ms")) * time.Millisecond,
		latencySpread: time.Duration(rapid.IntRange(0, 200).Draw(rt, "latency spread ms")) * time.Millisecond,
		seed:          rapid.Uint64().Draw(rt, "seed"),
	}
	w.callers = rapid.IntRange(w.models, 4*w.models).Draw(rt, "callers")
	capacity := w.limit
	if perModel {
		capacity *= w.models
	}
	w.calls = max(windows*capacity/w.callers, 1)
	return w
}

// simulate runs the scopeLoad in a synctest bubble, so that time is fake
// (the limiter's waits for another call to end would hold a fake clock's
// simulation still while calls wait out their latency), and returns the
// run.
func simulate(t *testing.T, w scopeLoad) *scopeRun {
	var r *scopeRun
	synctest.Test(t, func(*testing.T) {
		time.Sleep(w.offset)
		p := &scopedProvider{
			anthropic: w.anthropic,
			limit:     w.limit,
			window:    time.Second,
			minLat:    w.minLatency,
			spread:    w.latencySpread,
			perModel:  w.perModel,
			rng:       rand.New(rand.NewPCG(w.seed, 0)),
			admitted:  map[limitertest.Slot]int{},
		}
		r = newScopeRun(p)
		r.run(w.callers, w.calls, w.models)
	})
	return r
}

// TestPropertyScopePerKeyConverges is the scope-learning property
// under a limit per key: whatever the number of models (2 to 6), the
// limit, the latency and the dialect, the limiter learns that the models
// share the budget although every answer announces it per model, and from
// the second window after the one in which the first 429 came back at most
// 2 % of the requests are refused. (Learning may take a window: when a
// model's first calls are all in flight together, or the provider's clock
// is known only to the second, its own calls can explain what it sees.)
func TestPropertyScopePerKeyConverges(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		r := simulate(t, drawScopeLoad(rt, false, 40))
		if r.failed > 0 {
			rt.Fatalf("%d calls failed", r.failed)
		}
		first := r.p.firstRefusal()
		if first.IsZero() {
			return
		}
		if s := r.scopes(); len(s) == 0 || s[0] != event.ScopePerKey {
			rt.Fatalf("scope changes %v, want %s first", s, event.ScopePerKey)
		}
		since := first.Truncate(r.p.window).Add(2 * r.p.window)
		sent, refused := r.p.refusedAfter(since)
		if refused*50 > sent {
			rt.Fatalf("%d of %d requests from the second window after the first 429 on were refused, want at most 2%%; scope changes %v", refused, sent, r.scopes())
		}
	})
}

// TestPropertyScopePerModelKept is the scope-learning property
// under a limit per model: whatever the number of models, the limit, the
// latency and the dialect, the limiter never takes the budgets for shared,
// so learning never cuts the throughput per-model budgets give.
func TestPropertyScopePerModelKept(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		r := simulate(t, drawScopeLoad(rt, true, 10))
		if r.failed > 0 {
			rt.Fatalf("%d calls failed", r.failed)
		}
		if s := r.scopes(); len(s) > 0 {
			rt.Fatalf("scope changes %v under a limit per model", s)
		}
	})
}

// anthropicQuota is an answer announcing rem of a limit of 5 requests
// until reset, in Anthropic's dialect.
func anthropicQuota(rem int, reset time.Time) http.Header {
	return hdr("anthropic-ratelimit-requests-limit", "5", "anthropic-ratelimit-requests-remaining", strconv.Itoa(rem),
		"anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339))
}

// The scope follows the evidence both ways: a model whose budget is lower
// than its own calls explain makes the key's models share one; two models
// announcing the same requests left in one window make them separate
// again.
func TestScopeFollowsTheEvidence(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reset := time.Now().Add(time.Minute)
		up := &upstream{script: []result{
			ok(anthropicQuota(4, reset)), // a's first call
			ok(anthropicQuota(3, reset)), // b's first call: the call of a spent b's budget
			ok(anthropicQuota(3, reset)), // a again, as b: one budget would have left 2
		}}
		var rec recorder
		c := provider.Chain(up, limiter.New(limiter.WithObserver(&rec)).Interceptor())
		for i, m := range []string{"a", "b", "a"} {
			if _, err := c.Complete(context.Background(), request(m)); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if got, want := rec.scopes(), []string{event.ScopePerKey, event.ScopePerModel}; !slices.Equal(got, want) {
			t.Errorf("scope changes %v, want %v", got, want)
		}
	})
}

// A 429 that announces nothing while the model's own calls had left room
// in its window speaks of a budget shared with the key's other models.
func TestScopeFromA429WithRoom(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		up := &upstream{script: []result{
			ok(anthropicQuota(4, time.Now().Add(time.Minute))),
			fail(provider.KindRateLimited, http.StatusTooManyRequests),
		}}
		var rec recorder
		c := provider.Chain(up, limiter.New(limiter.WithObserver(&rec)).Interceptor())
		if _, err := c.Complete(context.Background(), request("a")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Complete(context.Background(), request("a")); kindOf(err) != provider.KindRateLimited {
			t.Fatalf("second call: %v, want the 429", err)
		}
		if got := rec.scopes(); !slices.Equal(got, []string{event.ScopePerKey}) {
			t.Errorf("scope changes %v, want [%s]", got, event.ScopePerKey)
		}
	})
}
