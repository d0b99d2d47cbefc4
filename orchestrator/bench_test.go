package orchestrator

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// BenchmarkConsult measures the orchestrator alone: one full consultation
// against a zero-latency completer, so time and allocations are the
// council logic's own (prompts, parsing, aggregation, events).
func BenchmarkConsult(b *testing.B) {
	c := newTestCouncil(b, newScripted())
	emit := func(Event) error { return nil }
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Consult(ctx, Request{Query: "Why is the sky blue?"}, emit); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChairmanDeltas runs consultations whose chairman streams its
// answer in 200 deltas, 100 µs apart, gathered by the default flush
// window, and reports the process's CPU time per consultation: mostly the
// cost of passing the deltas from the call to the consultation.
func BenchmarkChairmanDeltas(b *testing.B) {
	deltas := make([]string, 200)
	for i := range deltas {
		deltas[i] = fmt.Sprintf("word%d ", i)
	}
	c := newTestCouncil(b, newScripted().set(testChair, behavior{deltas: deltas, pause: 100 * time.Microsecond}, StageSynthesize))
	emit := func(Event) error { return nil }
	ctx := context.Background()
	start := cpuTime(b)
	for b.Loop() {
		if err := c.Consult(ctx, Request{Query: "Why is the sky blue?"}, emit); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-start).Microseconds())/float64(b.N), "cpu-µs/op")
}

// cpuTime returns the CPU time the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
