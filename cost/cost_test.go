package cost_test

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/provider/sim"
)

// patience bounds how long a test waits for something that should be quick.
const patience = 10 * time.Second

// counting counts the model listings it passes to the client it holds,
// which a test may swap.
type counting struct {
	calls  atomic.Int64
	client atomic.Pointer[openrouter.Client]
}

func (c *counting) ListModels(ctx context.Context) ([]provider.Model, error) {
	c.calls.Add(1)
	return c.client.Load().ListModels(ctx)
}

func newClient(t *testing.T, s *openroutertest.Server, key string) *openrouter.Client {
	t.Helper()
	c, err := openrouter.New(s.Client(), openrouter.Config{BaseURL: s.URL(), APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestCatalogCachesForTTLThenRefetches(t *testing.T) {
	price := provider.Price{Prompt: 1e-6, Completion: 2e-6}
	s := openroutertest.NewServer(openroutertest.WithPrice("acme/a", price))
	defer s.Close()
	l := &counting{}
	l.client.Store(newClient(t, s, s.Key()))
	clock := &fakeClock{now: time.Unix(1e9, 0)}
	c := cost.NewCatalog(l, cost.WithTTL(time.Minute), cost.WithClock(clock.Now))
	ctx := context.Background()

	if _, ok := c.Price("acme/a"); ok {
		t.Fatal("an empty catalog knows a price")
	}
	models, err := c.ListModels(ctx)
	if err != nil || len(models) == 0 {
		t.Fatalf("ListModels = %d models, %v", len(models), err)
	}
	if p, ok := c.Price("acme/a"); !ok || p != price {
		t.Errorf("Price(acme/a) = %+v, %v; want %+v", p, ok, price)
	}
	for range 3 {
		if _, at, err := c.Models(ctx); err != nil || !at.Equal(clock.Now()) {
			t.Fatalf("Models = fetched at %v, %v; want %v", at, err, clock.Now())
		}
	}
	if n := l.calls.Load(); n != 1 {
		t.Errorf("%d listings within the TTL, want 1 (the first)", n)
	}

	clock.Advance(time.Minute)
	s.SetPrice("acme/a", provider.Price{Prompt: 3e-6, Completion: 4e-6})
	if _, _, err := c.Models(ctx); err != nil {
		t.Fatal(err)
	}
	if n := l.calls.Load(); n != 2 {
		t.Errorf("%d listings after the TTL, want 2", n)
	}
	if p, _ := c.Price("acme/a"); p.Prompt != 3e-6 {
		t.Errorf("price after the refresh %+v, want the new one", p)
	}

	// A failing provider: the stale list is served, and kept.
	clock.Advance(time.Minute)
	l.client.Store(newClient(t, s, "wrong-key"))
	got, _, err := c.Models(ctx)
	if err != nil || len(got) != len(models) {
		t.Errorf("Models with the provider failing = %d models, %v; want the stale %d", len(got), err, len(models))
	}
	if _, err := c.ListModels(ctx); err == nil {
		t.Error("ListModels with the provider failing succeeded")
	}
	if _, ok := c.Price("acme/a"); !ok {
		t.Error("a failed refresh dropped the prices")
	}
}

func TestCatalogWithoutListFails(t *testing.T) {
	s := openroutertest.NewServer()
	defer s.Close()
	c := cost.NewCatalog(newClient(t, s, "wrong-key"))
	if _, _, err := c.Models(context.Background()); err == nil {
		t.Error("Models with nothing cached and the provider failing succeeded")
	}
}

func TestCatalogRunRefreshes(t *testing.T) {
	s := openroutertest.NewServer()
	defer s.Close()
	l := &counting{}
	l.client.Store(newClient(t, s, s.Key()))
	c := cost.NewCatalog(l, cost.WithTTL(5*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	deadline := time.Now().Add(patience)
	for l.calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	if n := l.calls.Load(); n < 2 {
		t.Errorf("Run refreshed %d times in %s", n, patience)
	}
	if _, ok := c.Price("openai/gpt-5-mini"); !ok {
		t.Error("Run filled no prices")
	}
}

func TestActualPrefersReportedCost(t *testing.T) {
	p := provider.Price{Prompt: 1e-6, Completion: 2e-6}
	if got := cost.Actual(p, provider.Usage{InputTokens: 10, OutputTokens: 5, Cost: 0.5}); got != 0.5 {
		t.Errorf("Actual with a reported cost = %g, want 0.5", got)
	}
	if got, want := cost.Actual(p, provider.Usage{InputTokens: 10, OutputTokens: 5}), p.Cost(10, 5); got != want || want < 1.9e-5 || want > 2.1e-5 {
		t.Errorf("Actual without a reported cost = %g, want %g", got, want)
	}
}

// The estimate of a call bounds the simulator's (and the fake upstream's)
// charge for it whenever the completion stays within max_tokens.
func TestEstimateBoundsSimulatedCost(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var msgs []provider.Message
		for _, s := range rapid.SliceOfN(rapid.String(), 1, 5).Draw(t, "messages") {
			msgs = append(msgs, provider.Message{Role: provider.RoleUser, Content: s})
		}
		out := rapid.IntRange(0, 4000).Draw(t, "completion bytes")
		maxTokens := rapid.IntRange(out/4+1, 5000).Draw(t, "max tokens")
		model := rapid.SampledFrom(sim.Models()).Draw(t, "model")
		price := sim.PriceOf(model)
		actual := sim.Usage(&provider.Request{Model: model, Messages: msgs}, strings.Repeat("x", out)).Cost
		if est := cost.Estimate(price, cost.PromptTokens(msgs), maxTokens); actual > est*(1+1e-9) {
			t.Fatalf("actual %g > estimate %g", actual, est)
		}
	})
}
