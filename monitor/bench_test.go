package monitor

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/councilhq/council/orchestrator"
)

// BenchmarkMonitorConsultationFinished measures the monitor's work per
// consultation once every window is full: nine model series checked against
// their budget, four windows updated, one log line to a discarding handler.
func BenchmarkMonitorConsultationFinished(b *testing.B) {
	m := New(WithLogger(slog.New(slog.DiscardHandler)))
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
		m.ConsultationFinished(context.Background(), s)
	}
	b.ReportAllocs()
	for b.Loop() {
		m.ConsultationFinished(context.Background(), s)
	}
}
