package limiter_test

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/event"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
)

// recorder is an Observer that keeps the events it is told of.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Observe(_ context.Context, e event.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// observe runs one call through c and returns the events it drew.
func (r *recorder) observe(c provider.Completer, req *provider.Request) ([]event.Event, error) {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	_, err := c.Complete(context.Background(), req)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.events, err
}

func kinds(events []event.Event) []event.Kind {
	var ks []event.Kind
	for _, e := range events {
		ks = append(ks, e.Kind)
	}
	return ks
}

func TestObserverEvents(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		limited := withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), hdr("Retry-After", "2"))
		down := fail(provider.KindOverloaded, http.StatusServiceUnavailable)
		up := &upstream{script: []result{limited, ok(hdr("x-ratelimit-limit-requests", "5", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s")), ok(nil), down, down}}
		rec := &recorder{}
		c := provider.Chain(up,
			retry.New(retry.WithMaxRetries(1), retry.WithObserver(rec)),
			limiter.New(limiter.WithObserver(rec), limiter.WithCooldown(limiter.CooldownRule{MinCalls: 2, Base: 10 * time.Second})).Interceptor())

		// A 429 with Retry-After: 2 is retried after 2 s.
		events, err := rec.observe(c, request("m"))
		if err != nil {
			t.Fatal(err)
		}
		want := event.Event{Kind: event.Retry, Model: "m", Attempt: 1, Delay: 2 * time.Second, Failure: provider.KindRateLimited}
		if len(events) != 1 || events[0] != want {
			t.Fatalf("events %+v, want %+v", events, want)
		}
		// The answer said the budget is spent for 3 s: the next call waits.
		events, err = rec.observe(c, request("m"))
		if err != nil {
			t.Fatal(err)
		}
		want = event.Event{Kind: event.Wait, Model: "m", Delay: 3 * time.Second, Reason: "budget"}
		if len(events) != 1 || events[0] != want {
			t.Fatalf("events %+v, want %+v", events, want)
		}
		// Two 503s, half of the four calls that count, start a cooldown…
		events, _ = rec.observe(c, request("m"))
		if ks := kinds(events); len(ks) != 3 || ks[0] != event.Retry || ks[1] != event.CooldownStart || ks[2] != event.RetryStop {
			t.Fatalf("events %v, want a retry, a cooldown start and a retry stop", ks)
		}
		if events[1].Delay != 10*time.Second {
			t.Errorf("cooldown of %v, want 10s", events[1].Delay)
		}
		if events[2].Reason != "max_retries" || events[2].Failure != provider.KindOverloaded {
			t.Errorf("retry stop %+v, want max_retries after an overloaded failure", events[2])
		}
		// …that refuses the next call.
		events, err = rec.observe(c, request("m"))
		if kindOf(err) != provider.KindCooldown || len(events) != 1 || events[0].Kind != event.Cooldown {
			t.Fatalf("err %v, events %v; want a cooldown refusal", err, events)
		}
	})
}

// The in-flight cap's queue is reported as a wait with reason in_flight,
// once, when the second call queues behind the first.
func TestObserverInFlightWait(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{}
		release := make(chan struct{})
		blocking := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
			<-release
			return &provider.Response{Content: "ok"}, nil
		})
		c := provider.Chain(blocking, limiter.New(limiter.WithMaxInFlight(1), limiter.WithObserver(rec)).Interceptor())
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				if _, err := c.Complete(context.Background(), request("m")); err != nil {
					t.Error(err)
				}
			})
		}
		synctest.Wait() // one call in flight, the other queued
		want := event.Event{Kind: event.Wait, Model: "m", Reason: "in_flight"}
		rec.mu.Lock()
		queued := slices.Clone(rec.events)
		rec.mu.Unlock()
		if len(queued) != 1 || queued[0] != want {
			t.Errorf("events while queued %+v, want %+v", queued, want)
		}
		close(release)
		wg.Wait()
		if len(rec.events) != 1 || rec.events[0] != want {
			t.Fatalf("events %+v, want %+v", rec.events, want)
		}
	})
}
