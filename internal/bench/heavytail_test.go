package bench_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func TestHeavyTailedModelAddsItsDelay(t *testing.T) {
	const jitter = 200 * time.Millisecond
	p := bench.HeavyTailProfile(jitter)
	p.Content = "an answer"
	p.Chunks = 1
	heavy := p.Council[0]
	if heavy.Latency != 300*time.Millisecond || heavy.Jitter != jitter || len(p.Backups) != 1 {
		t.Fatalf("heavy model %+v, backups %v", heavy, p.Backups)
	}
	if got := bench.CriticalPath(bench.WithoutTail(p)).Total(); got != 1700*time.Millisecond {
		t.Errorf("critical path without the tail = %v, want 1.7s", got)
	}
	// Calls to the heavy model take 300 ms plus a delay under 200 ms.
	durations := func() []time.Duration {
		u, err := bench.StartUpstream(p, false)
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		transport := openrouter.NewTransport()
		defer transport.CloseIdleConnections()
		client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: u.URL(), APIKey: u.Key()})
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Duration
		for range 3 {
			began := time.Now()
			if _, err := client.Complete(context.Background(), &provider.Request{Model: heavy.ID, Messages: []provider.Message{{Role: provider.RoleUser, Content: "q"}}}); err != nil {
				t.Fatal(err)
			}
			out = append(out, time.Since(began))
		}
		if _, err := client.Complete(context.Background(), &provider.Request{Model: p.Backups[0].ID, Messages: []provider.Message{{Role: provider.RoleUser, Content: "q"}}}); err != nil {
			t.Fatal(err)
		}
		if u.RequestsFor(p.Backups[0].ID) != 1 {
			t.Errorf("backup requests = %d, want 1", u.RequestsFor(p.Backups[0].ID))
		}
		return out
	}
	for i, d := range durations() {
		if d < heavy.Latency || d > heavy.Latency+jitter+patience/10 {
			t.Errorf("call %d took %v, want 300 ms plus at most %v", i, d, jitter)
		}
	}
}

func TestHeavyTailReport(t *testing.T) {
	p := bench.HeavyTailProfile(3 * time.Second)
	rows := []bench.HeavyTailRow{
		{Latency: bench.Dist{N: 40, P50: ms(2900), P99: ms(4500)}},
		{Hedge: true, Cutoff: true, Latency: bench.Dist{N: 39, P50: ms(1870), P99: ms(2040)}, Cut: 30, Hedges: 12, Errors: 1},
	}
	var b strings.Builder
	if err := bench.WriteHeavyTailReport(&b, p, rows); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"bench/council-300ms-heavy answers in 300 ms plus a random delay of up to 3000 ms",
		"Critical path without the tail: **1700 ms**",
		"| off | off | 40 | 2900 ms | 4500 ms | 1.71× | 2.65× | 0 | 0 | 0 |",
		"| on | on | 40 | 1870 ms | 2040 ms | 1.10× | 1.20× | 30 | 12 | 1 |",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
