package orchestrator

import (
	"context"
	"testing"
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
