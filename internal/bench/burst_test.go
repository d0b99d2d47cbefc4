package bench_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/server"
)

// serveCapped runs the real service in this process, as serve does, with
// a static cap of limit consultations at once.
func serveCapped(t *testing.T, u *bench.Upstream, p bench.Profile, limit int) string {
	t.Helper()
	transport := openrouter.NewTransport()
	client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: u.URL(), APIKey: u.Key()})
	if err != nil {
		t.Fatal(err)
	}
	council, err := orchestrator.New(client, orchestrator.Config{Council: p.CouncilIDs(), Chairman: p.Chairman.ID})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(council, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), server.WithMaxConsultations(limit))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(transport.CloseIdleConnections)
	return servertest.Serve(t, srv)
}

// TestBurstsAgainstACappedServer probes and bursts a server that admits
// four consultations at once, which each take about 600 ms: the probe
// stops at a wave past the capacity, and a burst of eight is served in
// part and shed for the rest, with the refusals quicker than the answers.
func TestBurstsAgainstACappedServer(t *testing.T) {
	p := bench.DefaultProfile()
	for i, l := range []int{100, 150, 200, 250} {
		p.Council[i].Latency, p.Council[i].TTFT = ms(l), ms(10)
	}
	p.Chairman.Latency, p.Chairman.TTFT = ms(200), ms(20)
	u, err := bench.StartUpstream(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	u.SetRecording(false)
	const limit = 4
	cfg := bench.BurstConfig{Addr: serveCapped(t, u, p, limit), Profile: p, Conns: 2, ProbeLevels: []int{2, limit, 2 * limit}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()

	res := &bench.BurstResult{}
	if err := bench.ProbeCapacity(ctx, cfg, res); err != nil {
		t.Fatal(err)
	}
	// The probe stops at the first wave past the capacity: the one the
	// cap sheds, or one the busy machine slows down.
	last := slices.Max(slices.Collect(maps.Keys(res.Probe)))
	if res.Single < ms(250+150+200) || res.Capacity > limit || last <= res.Capacity {
		t.Fatalf("probe: single %v, capacity %d, waves %v; want a single consultation of at least 600 ms, a capacity of at most %d and a wave past it",
			res.Single, res.Capacity, res.Probe, limit)
	}

	cfg.Single, cfg.Capacity, cfg.Factors = res.Single, limit, []float64{1, 2}
	if err := bench.RunBursts(ctx, cfg, res); err != nil {
		t.Fatal(err)
	}
	if len(res.Bursts) != 2 {
		t.Fatalf("%d bursts, want 2", len(res.Bursts))
	}
	// A consultation that ends while the burst is still arriving frees
	// its place, so a slow machine may serve more than four of eight.
	if b := res.Bursts[0]; b.Size != limit || b.Served != limit || b.Shed != 0 || b.Failed != 0 {
		t.Errorf("burst of %d: %+v; want all served", limit, b)
	}
	b := res.Bursts[1]
	if b.Size != 2*limit || b.Served < limit || b.Shed == 0 || b.Served+b.Shed != b.Size || b.Failed != 0 {
		t.Errorf("burst of %d: %+v; want %d or more served and the rest shed", 2*limit, b, limit)
	}
	if b.ShedLatency.Max >= b.ServedLatency.P50 {
		t.Errorf("refusals took up to %v, served consultations %v at the median", b.ShedLatency.Max, b.ServedLatency.P50)
	}

	var report strings.Builder
	if err := bench.WriteBurstReport(&report, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| 1× capacity | 4 | 4 | 0 | 0 |", "| 2× capacity | 8 | ", "Capacity: 4 consultations", "Probe waves"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
}
