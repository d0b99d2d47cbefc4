package limiter_test

import (
	"context"
	"github.com/councilhq/council/outbound/event"
	"github.com/councilhq/council/outbound/retry"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/limiter"
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
func (r *recorder) observe(clk *limitertest.Clock, c provider.Completer, req *provider.Request) ([]event.Event, error) {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
	var err error
	clk.Go(func() { _, err = c.Complete(context.Background(), req) })
	clk.Wait()
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
	clk := limitertest.NewClock(epoch)
	limited := withHeader(fail(provider.KindRateLimited, http.StatusTooManyRequests), hdr("Retry-After", "2"))
	down := fail(provider.KindOverloaded, http.StatusServiceUnavailable)
	up := &upstream{clk: clk, script: []result{limited, ok(hdr("x-ratelimit-limit-requests", "5", "x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "3s")), ok(nil), down, down}}
	rec := &recorder{}
	c := provider.Chain(up,
		retry.New(retry.WithClock(clk), retry.WithMaxRetries(1), retry.WithObserver(rec)),
		limiter.New(limiter.WithClock(clk), limiter.WithObserver(rec), limiter.WithCooldown(limiter.CooldownRule{MinCalls: 2, Base: 10 * time.Second})).Interceptor())

	// A 429 with Retry-After: 2 is retried after 2 s.
	events, err := rec.observe(clk, c, request("m"))
	if err != nil {
		t.Fatal(err)
	}
	want := event.Event{Kind: event.Retry, Model: "m", Attempt: 1, Delay: 2 * time.Second, Failure: provider.KindRateLimited}
	if len(events) != 1 || events[0] != want {
		t.Fatalf("events %+v, want %+v", events, want)
	}
	// The answer said the budget is spent for 3 s: the next call waits.
	events, err = rec.observe(clk, c, request("m"))
	if err != nil {
		t.Fatal(err)
	}
	want = event.Event{Kind: event.Wait, Model: "m", Delay: 3 * time.Second, Reason: "budget"}
	if len(events) != 1 || events[0] != want {
		t.Fatalf("events %+v, want %+v", events, want)
	}
	// Two 503s, half of the four calls that count, start a cooldown…
	events, _ = rec.observe(clk, c, request("m"))
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
	events, err = rec.observe(clk, c, request("m"))
	if provider.AsError(err).Kind != provider.KindCooldown || len(events) != 1 || events[0].Kind != event.Cooldown {
		t.Fatalf("err %v, events %v; want a cooldown refusal", err, events)
	}
}

// The in-flight cap's queue is reported as a wait with reason in_flight.
func TestObserverInFlightWait(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	blocking := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		started <- struct{}{}
		<-release
		return &provider.Response{Content: "ok"}, nil
	})
	c := provider.Chain(blocking, limiter.New(limiter.WithMaxInFlight(1), limiter.WithObserver(rec)).Interceptor())
	done := make(chan error, 2)
	for range 2 {
		go func() {
			_, err := c.Complete(context.Background(), request("m"))
			done <- err
		}()
	}
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for {
		rec.mu.Lock()
		n := len(rec.events)
		rec.mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	want := event.Event{Kind: event.Wait, Model: "m", Reason: "in_flight"}
	if len(rec.events) != 1 || rec.events[0] != want {
		t.Fatalf("events %+v, want %+v", rec.events, want)
	}
}
