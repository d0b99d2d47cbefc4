package bench_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/councilhq/council/internal/bench"
)

func TestReportShowsRatiosAndProblems(t *testing.T) {
	p := bench.DefaultProfile()
	res := &bench.Result{
		Profile: p,
		Path:    bench.CriticalPath(p),
		Single:  bench.Level{Concurrency: 1, Rounds: 1, Latency: bench.Dist{N: 10, P50: ms(1710), P99: ms(1720)}},
		Levels: []bench.Level{{
			Concurrency: 100, Rounds: 2,
			Latency:         bench.Dist{N: 198, P50: ms(1881), P99: ms(2150)},
			EmitDelay:       bench.Dist{N: 1584, P50: ms(1), P99: ms(12)},
			ServerEmitDelay: bench.Dist{N: 1584, P50: ms(1), P99: ms(7)},
			CallOverhead:    bench.Dist{N: 1584, P50: ms(2), P99: ms(150)},
			UpstreamLate:    bench.Dist{N: 1584, P50: ms(3), P99: ms(40)},
			Errors:          2, FirstError: "rpc error: code = Unavailable",
			Failures: 3, FailureReasons: map[string]int{"timeout": 1, "canceled": 2}, Dials: 50, Calls: 1800,
			Messages: 42.4, ServerCPU: ms(800), ReadSyscalls: 30000,
		}},
		Throughput:   &bench.Throughput{Workers: 4, Consultations: 500, Errors: 1},
		Memory:       &bench.Memory{Concurrency: 100, Before: 30 << 20, Peak: 90 << 20, GoroutinesBefore: 40, GoroutinesPeak: 1240},
		Orchestrator: &bench.GoBench{Name: "BenchmarkConsult", NsPerOp: 250000, BytesPerOp: 2048, AllocsPerOp: 1234},
	}
	var b strings.Builder
	if err := bench.WriteReport(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf("first token after 100 ms; each answer streamed in %d chunks.", p.Chunks),
		"| Overhead over the critical path | +10.0 ms (+0.6%) | +20.0 ms (+1.2%) |",
		"| 100 | 200 | 1881 ms | 2150 ms | 110.0% | 125.0% |",
		"| 1.00 ms | 12.0 ms | 7.00 ms | 150 ms | 40.0 ms | 0.03 | 42 | 4.00 ms | 150 | 2 |",
		"| Orchestrator alone (BenchmarkConsult): time per consultation | 0.25 ms |",
		"| 1234 (2 KiB) |",
		"| Peak goroutines at 100 concurrent (before: 40) | 1240 (12.0 per consultation) |",
		"2 of 200 consultations at 100 concurrent failed; first error: rpc error: code = Unavailable",
		"at 100 concurrent: 3 model failures (canceled 2, timeout 1)",
		"1 consultations of the throughput run failed",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if got := res.Errors(); got != 3 {
		t.Errorf("Errors() = %d, want 3", got)
	}
}
