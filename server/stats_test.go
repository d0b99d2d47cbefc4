package server

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
)

func TestGetStatsReportsTheMonitor(t *testing.T) {
	t.Parallel()
	mon := monitor.New(monitor.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	mon.ConsultationFinished(context.Background(), orchestrator.Summary{
		Tier:     "speed",
		Duration: 9 * time.Second,
		StageDurations: map[orchestrator.Stage]time.Duration{
			orchestrator.StageCollect: 6 * time.Second, orchestrator.StageReview: 2 * time.Second, orchestrator.StageSynthesize: time.Second,
		},
		Calls: []orchestrator.CallSummary{
			{Stage: orchestrator.StageCollect, Model: "m/a", Latency: 3 * time.Second, OK: true},
			{Stage: orchestrator.StageCollect, Model: "m/b", Latency: 6 * time.Second, Reason: orchestrator.ReasonTimeout},
		},
	})
	h := start(t, ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error { return nil }), WithStats(mon))
	got, err := h.client.GetStats(context.Background(), &councilv1.GetStatsRequest{})
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	one := func(d time.Duration) *councilv1.LatencyDistribution {
		p := durationpb.New(d)
		return &councilv1.LatencyDistribution{Count: 1, Min: p, Mean: p, P50: p, P90: p, P95: p, P99: p, Max: p}
	}
	zero := func() *councilv1.LatencyDistribution {
		z := durationpb.New(0)
		return &councilv1.LatencyDistribution{Min: z, Mean: z, P50: z, P90: z, P95: z, P99: z, Max: z}
	}
	speed, _ := orchestrator.LookupTier("speed")
	collectBudget := time.Duration(float64(speed.ExpectedLatency) * float64(5*time.Second) / float64(17*time.Second))
	want := &councilv1.GetStatsResponse{
		Window:         monitor.DefaultWindow,
		Consultations:  1,
		AdmissionLimit: DefaultMaxConsultations,
		Total:          one(9 * time.Second),
		Stages: []*councilv1.StageLatency{
			{Stage: councilv1.Stage_STAGE_COLLECT, Threshold: durationpb.New(5 * time.Second), Exceeded: 1, Latency: one(6 * time.Second)},
			{Stage: councilv1.Stage_STAGE_REVIEW, Threshold: durationpb.New(5 * time.Second), Latency: one(2 * time.Second)},
			{Stage: councilv1.Stage_STAGE_SYNTHESIZE, Threshold: durationpb.New(7 * time.Second), Latency: one(time.Second)},
		},
		Models: []*councilv1.ModelLatency{
			{Stage: councilv1.Stage_STAGE_COLLECT, Model: "m/a", Tier: councilv1.Tier_TIER_SPEED, Budget: durationpb.New(collectBudget), Latency: one(3 * time.Second)},
			{Stage: councilv1.Stage_STAGE_COLLECT, Model: "m/b", Tier: councilv1.Tier_TIER_SPEED, Failures: 1, Budget: durationpb.New(collectBudget), Latency: zero()},
		},
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("GetStats (-want +got):\n%s", diff)
	}
}

func TestGetStatsWithoutSource(t *testing.T) {
	t.Parallel()
	h := start(t, ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error { return nil }))
	got, err := h.client.GetStats(context.Background(), &councilv1.GetStatsRequest{})
	if err != nil || got.GetConsultations() != 0 {
		t.Errorf("GetStats = %v, %v; want an empty response", got, err)
	}
}
