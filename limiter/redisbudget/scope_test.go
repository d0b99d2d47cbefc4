package redisbudget_test

import (
	"context"
	"github.com/councilhq/council/outbound/event"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// perKeyProvider admits limit requests per one-second window, shared by
// every model, while announcing the budget per model in OpenAI's dialect.
// It counts the 429s it answers.
type perKeyProvider struct {
	clk      *limitertest.Clock
	limit    int
	mu       sync.Mutex
	admitted map[time.Time]int
	refused  int
}

func (p *perKeyProvider) Complete(_ context.Context, req *provider.Request) (*provider.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clk.Now()
	start := now.Truncate(time.Second)
	ok := p.admitted[start] < p.limit
	if ok {
		p.admitted[start]++
	} else {
		p.refused++
	}
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", strconv.Itoa(p.limit))
	h.Set("x-ratelimit-remaining-requests", strconv.Itoa(p.limit-p.admitted[start]))
	h.Set("x-ratelimit-reset-requests", start.Add(time.Second).Sub(now).String())
	if !ok {
		return nil, &provider.Error{Kind: provider.KindRateLimited, StatusCode: http.StatusTooManyRequests, RateLimits: openrouter.ParseRateLimits(h, now), Message: "upstream returned 429"}
	}
	return &provider.Response{Model: req.Model, Content: "ok", RateLimits: openrouter.ParseRateLimits(h, now)}, nil
}

func (p *perKeyProvider) refusals() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.refused
}

// The learned scope is part of what the store keeps: once one replica has
// learned that the key's models share the budget they announce per model,
// another replica's calls to models it has never called wait for the
// key's reset instead of running into 429s.
func TestLearnedScopeIsShared(t *testing.T) {
	rdb := client(t, redistest.Start(t))
	clk := limitertest.NewClock(epoch)
	p := &perKeyProvider{clk: clk, limit: 4, admitted: map[time.Time]int{}}
	var scopes recorderObserver
	ls, closeStores := replicas(t, rdb, 2, clk, limiter.WithObserver(&scopes))
	defer closeStores()
	a := provider.Chain(p, ls[0].Interceptor())
	b := provider.Chain(p, ls[1].Interceptor())

	// Replica a calls two models one after the other: the second model's
	// first answer shows a budget its own calls did not spend.
	for i := range 3 {
		clk.Go(func() { _, _ = a.Complete(context.Background(), request("m"+strconv.Itoa(i%2))) })
		clk.Wait()
	}
	if got := scopes.scopes(); len(got) != 1 || got[0] != event.ScopePerKey {
		t.Fatalf("scope changes %v on replica a, want [%s]", got, event.ScopePerKey)
	}
	// Replica b has learned nothing: the store pools its calls. One
	// request is left in the window; the next waits for the reset.
	var sent []time.Time
	for i := range 2 {
		clk.Go(func() {
			if _, err := b.Complete(context.Background(), request("n"+strconv.Itoa(i))); err != nil {
				t.Errorf("call %d on replica b: %v", i, err)
			}
			sent = append(sent, clk.Now())
		})
		clk.Wait()
	}
	if n := p.refusals(); n != 0 {
		t.Errorf("%d requests refused, want none", n)
	}
	if len(sent) != 2 || !sent[0].Equal(epoch) || sent[1].Before(epoch.Add(time.Second)) {
		t.Errorf("replica b's calls ended at %v, want the second after the reset at +1s", sent)
	}
}

// recorderObserver keeps the scopes the limiters learn.
type recorderObserver struct {
	mu sync.Mutex
	s  []string
}

func (r *recorderObserver) Observe(_ context.Context, e event.Event) {
	if e.Kind != event.Scope {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = append(r.s, e.Scope)
}

func (r *recorderObserver) scopes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.s...)
}
