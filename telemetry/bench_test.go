package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// BenchmarkMonitorConsultationFinished measures the monitor's work per
// consultation once every window is full: nine model series checked against
// their budget, four windows updated, one log line to a discarding handler.
func BenchmarkMonitorConsultationFinished(b *testing.B) {
	m := NewMonitor(WithLogger(slog.New(slog.DiscardHandler)))
	tier, _ := orchestrator.LookupTier("balanced")
	s := orchestrator.Summary{Tier: tier.Name, Duration: 9 * time.Second, StageDurations: map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect: 3 * time.Second, orchestrator.StageReview: 3 * time.Second, orchestrator.StageSynthesize: 3 * time.Second,
	}}
	for i, model := range tier.Council {
		d := time.Duration(i+1) * time.Second
		s.Calls = append(s.Calls,
			orchestrator.CallSummary{Stage: orchestrator.StageCollect, Model: model, Latency: d, OK: true},
			orchestrator.CallSummary{Stage: orchestrator.StageReview, Model: model, Latency: d, OK: true})
	}
	s.Calls = append(s.Calls, orchestrator.CallSummary{Stage: orchestrator.StageSynthesize, Model: tier.Chairman, Latency: 3 * time.Second, OK: true})
	for range DefaultWindow {
		m.ConsultationFinished(s)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.ConsultationFinished(s)
	}
}

// BenchmarkGenAIInterceptor measures the interceptor's overhead per call,
// with no-op providers (telemetry off) and with spans and metrics recorded
// in memory.
func BenchmarkGenAIInterceptor(b *testing.B) {
	for _, recording := range []bool{false, true} {
		b.Run(fmt.Sprintf("recording=%v", recording), func(b *testing.B) {
			opts := []Option{WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(metricnoop.NewMeterProvider())}
			if recording {
				h := newHarness(b)
				opts = []Option{WithTracerProvider(h.tp), WithMeterProvider(h.mp)}
			}
			resp := &provider.Response{Content: "ok", Usage: provider.Usage{InputTokens: 10, OutputTokens: 5}}
			c := provider.Chain(provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) { return resp, nil }),
				GenAIInterceptor(opts...))
			req := chatRequest("m/bench")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Complete(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
