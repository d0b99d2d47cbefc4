package redisbudget_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/limiter/redisbudget"
	"github.com/councilhq/council/provider"
)

// A replica that dies holding in-flight slots holds them only until its
// leases expire; a live replica's leases are renewed and last.
func TestLeasesOfADeadReplicaExpire(t *testing.T) {
	rdb := client(t, redistest.Start(t))
	prefix := newPrefix()
	ttl := 300 * time.Millisecond
	dead := newStore(t, rdb, redisbudget.Options{Prefix: prefix, LeaseTTL: ttl})
	live := newStore(t, rdb, redisbudget.Options{Prefix: prefix, LeaseTTL: ttl})
	call := limiter.StoreCall{ModelKey: "k|m", ProviderKey: "k", Cost: [limiter.NumResources]int64{1}, MaxInFlight: 2}
	ctx := context.Background()

	if v, err := dead.Admit(ctx, call, time.Now()); err != nil || !v.Admitted {
		t.Fatalf("first call: %+v, %v", v, err)
	}
	_ = dead.Close() // the replica dies: its lease is no longer renewed
	held, err := live.Admit(ctx, call, time.Now())
	if err != nil || !held.Admitted {
		t.Fatalf("second call: %+v, %v", held, err)
	}
	if v, err := live.Admit(ctx, call, time.Now()); err != nil || v.Admitted || !v.InFlight {
		t.Fatalf("third call with both slots taken: %+v, %v; want held back by the in-flight cap", v, err)
	}
	// Past the lease time, the dead replica's slot is free; the live
	// replica's, renewed meanwhile, is not.
	time.Sleep(2 * ttl)
	if v, err := live.Admit(ctx, call, time.Now()); err != nil || !v.Admitted {
		t.Fatalf("after the dead replica's lease expired: %+v, %v; want admitted", v, err)
	}
	if v, err := live.Admit(ctx, call, time.Now()); err != nil || v.Admitted {
		t.Fatalf("a call beyond the cap: %+v, %v; want held back, the live lease is renewed", v, err)
	}
	if err := live.Settle(ctx, held.Lease, limiter.Settlement{Sent: time.Now(), Done: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if v, err := live.Admit(ctx, call, time.Now()); err != nil || !v.Admitted {
		t.Fatalf("after a call settled: %+v, %v; want admitted", v, err)
	}
}

// A cooldown one replica starts refuses the model's calls on every replica.
func TestCooldownIsShared(t *testing.T) {
	rdb := client(t, redistest.Start(t))
	clk := limitertest.NewClock(epoch)
	rule := limiter.CooldownRule{MinCalls: 3, FailureRatio: 0.5, Window: 10 * time.Second, Base: 30 * time.Second}
	ls, closeStores := replicas(t, rdb, 2, clk, limiter.WithCooldown(rule))
	defer closeStores()
	down := &upstream{clk: clk, script: []result{{err: &provider.Error{Kind: provider.KindUpstream, StatusCode: http.StatusBadGateway, Message: "bad gateway"}}}}
	a := provider.Chain(down, ls[0].Interceptor())
	for range 3 {
		_, _ = a.Complete(context.Background(), request("m"))
	}
	b := provider.Chain(down, ls[1].Interceptor())
	_, err := b.Complete(context.Background(), request("m"))
	if pe := provider.AsError(err); pe.Kind != provider.KindCooldown || pe.RetryAfter != rule.Base {
		t.Fatalf("the other replica's call: %v (kind %v, retry after %v); want a cooldown of %v", err, pe.Kind, pe.RetryAfter, rule.Base)
	}
	if got := len(down.times()); got != 3 {
		t.Fatalf("the provider saw %d calls, want 3: the cooled-down call must not be sent", got)
	}
	if _, err := b.Complete(context.Background(), request("other")); provider.AsError(err).Kind == provider.KindCooldown || len(down.times()) != 4 {
		t.Fatalf("another model's call: %v; want it sent, the cooldown is per model", err)
	}
}

// When Redis stops answering, calls go on under each replica's own limiter
// without waiting on Redis; the outage is logged once and every such call
// counted; when Redis is back the replica rejoins and logs it.
func TestFallbackAndRejoin(t *testing.T) {
	srv := redistest.Start(t)
	rdb := client(t, srv)
	var logs syncbuf.Buffer
	reader := metric.NewManualReader()
	mp := metric.NewMeterProvider(metric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	store := newStore(t, rdb, redisbudget.Options{Prefix: newPrefix(), RetryEvery: 50 * time.Millisecond, Logger: logger(&logs), MeterProvider: mp})
	up := &upstream{clk: limitertest.NewClock(epoch), script: []result{{}}}
	chain := provider.Chain(up, limiter.New(limiter.WithStore(store)).Interceptor())
	call := func() time.Duration {
		t.Helper()
		start := time.Now()
		if _, err := chain.Complete(context.Background(), request("m")); err != nil {
			t.Fatalf("call: %v", err)
		}
		return time.Since(start)
	}

	call()
	if !store.Shared() {
		t.Fatal("not sharing while Redis answers")
	}
	if n := rdb.Keys(context.Background(), "*").Val(); len(n) == 0 {
		t.Fatal("no budget in Redis after a call")
	}
	srv.Stop()
	for i := range 20 {
		if d := call(); d > 2*redisbudget.DefaultTimeout {
			t.Fatalf("call %d with Redis down took %v", i, d)
		}
	}
	if store.Shared() {
		t.Fatal("still sharing with Redis down")
	}
	if n := strings.Count(logs.String(), "redis does not answer"); n != 1 {
		t.Fatalf("the outage was logged %d times, want once:\n%s", n, logs.String())
	}
	if got := counter(t, reader, redisbudget.MetricFallbacks); got < 20 {
		t.Fatalf("%s = %d, want at least the 20 calls made while Redis was down", redisbudget.MetricFallbacks, got)
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for !store.Shared() || !strings.Contains(logs.String(), "redis answers again") {
		if time.Now().After(deadline) {
			t.Fatalf("did not rejoin within 5s of Redis's return:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "redis answers again") {
		t.Fatalf("the rejoin was not logged:\n%s", logs.String())
	}
	call()
	if n := rdb.Keys(context.Background(), "*").Val(); len(n) == 0 {
		t.Fatal("no budget in the restarted Redis after a call: the replica did not rejoin")
	}
}

// counter returns the sum of the counter name's points.
func counter(t *testing.T, r *metric.ManualReader, name string) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if s, ok := m.Data.(metricdata.Sum[int64]); ok && m.Name == name {
				for _, p := range s.DataPoints {
					n += p.Value
				}
			}
		}
	}
	return n
}
