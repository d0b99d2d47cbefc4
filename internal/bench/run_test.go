package bench_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/orchestrator"
)

// probe is a bench.Probe reporting fixed values and counting resets.
type probe struct{ resets atomic.Int32 }

func (p *probe) ResetPeak() error            { p.resets.Add(1); return nil }
func (p *probe) Peak() (int64, error)        { return 7 << 20, nil }
func (p *probe) Current() (int64, error)     { return 3 << 20, nil }
func (p *probe) CPU() (time.Duration, error) { return time.Second, nil }

func TestRunAgainstTheRealService(t *testing.T) {
	p := bench.DefaultProfile()
	for i, l := range []int{20, 30, 40, 50} {
		p.Council[i].Latency, p.Council[i].TTFT = ms(l), ms(5)
	}
	p.Chairman.Latency, p.Chairman.TTFT = ms(60), ms(10)
	u, err := bench.StartUpstream(p, false)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	addr := serve(t, u.URL(), u.Key(), orchestrator.Config{Council: p.CouncilIDs(), Chairman: p.Chairman.ID})
	pr := &probe{}
	var progress strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*patience)
	defer cancel()
	res, err := bench.Run(ctx, bench.Config{
		Addr: addr, Upstream: u, Profile: p,
		Single: 2, Levels: []int{3, 6}, Samples: 6, Conns: 2,
		ThroughputWorkers: 2, ThroughputDuration: 200 * time.Millisecond,
		Probe: pr, Progress: &progress,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors() != 0 {
		t.Fatalf("%d consultations failed: %+v", res.Errors(), res)
	}
	path := res.Path
	if path.Total() != ms(50+30+60) {
		t.Errorf("critical path %v", path.Total())
	}
	levels := append([]bench.Level{res.Single}, res.Levels...)
	for i, want := range []struct{ concurrency, rounds, n int }{{1, 1, 2}, {3, 2, 6}, {6, 2, 12}} {
		l := levels[i]
		if l.Concurrency != want.concurrency || l.Rounds != want.rounds || l.Latency.N != want.n {
			t.Errorf("level %d: %d concurrent, %d rounds, %d consultations; want %+v", i, l.Concurrency, l.Rounds, l.Latency.N, want)
		}
		// Nothing beats the critical path, and every answer and ranking
		// is either an event that reached the client after the upstream
		// wrote it, or a failure.
		if l.Latency.P50 < path.Total() || l.FirstText.P50 < path.ToFirstText() || l.FirstEvent.P50 <= 0 {
			t.Errorf("level %d: latency p50 %v, first words %v, first event %v; critical path %v, first words %v",
				i, l.Latency.P50, l.FirstText.P50, l.FirstEvent.P50, path.Total(), path.ToFirstText())
		}
		if l.Unmatched != 0 || l.EmitDelay.N+l.Failures != 8*l.Latency.N || l.EmitDelay.P50 <= 0 || l.CallOverhead.N != l.EmitDelay.N || l.CallOverhead.P50 < 0 {
			t.Errorf("level %d: %d events matched, %d unmatched, %d failures, emit delay p50 %v", i, l.EmitDelay.N, l.Unmatched, l.Failures, l.EmitDelay.P50)
		}
		// Every event is stamped before it is sent, so the server's part
		// of the emit delay is within the whole, quantile by quantile.
		if s := l.ServerEmitDelay; s.N != l.EmitDelay.N || s.P50 > l.EmitDelay.P50 || s.P99 > l.EmitDelay.P99 || s.P50 < -time.Millisecond {
			t.Errorf("level %d: server emit delay %+v, emit delay %+v", i, s, l.EmitDelay)
		}
		if l.Calls < int64(9*l.Latency.N) || l.Dials < 0 {
			t.Errorf("level %d: %d upstream calls, %d dials", i, l.Calls, l.Dials)
		}
	}
	if m := res.Memory; m == nil || m.Concurrency != 6 || m.Peak != 7<<20 || m.Before != 3<<20 || pr.resets.Load() != 1 {
		t.Errorf("memory %+v after %d resets", res.Memory, pr.resets.Load())
	}
	if tp := res.Throughput; tp == nil || tp.Consultations == 0 || tp.Errors != 0 || tp.PerSecond() <= 0 || tp.BenchCPU <= 0 {
		t.Errorf("throughput %+v", res.Throughput)
	}
	for _, phase := range []string{"single:", "3 concurrent:", "6 concurrent:", "throughput:"} {
		if !strings.Contains(progress.String(), phase) {
			t.Errorf("progress lacks %q:\n%s", phase, progress.String())
		}
	}

	var report strings.Builder
	if err := bench.WriteReport(&report, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"= **140 ms**", "| 1 | 2 |", "| 3 | 6 |", "| 6 | 12 |", "Peak resident memory at 6 concurrent (before: 3.0 MiB) | 7.0 MiB |", "Consultations per second"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if strings.Contains(report.String(), "Problems") {
		t.Errorf("a sound run reports problems:\n%s", report.String())
	}
}
