package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/monitor"
)

// StatsSource is what GetStats reports; *monitor.Monitor is one.
type StatsSource interface {
	Stats() monitor.Snapshot
}

// GetStats reports the admission limit, the consultations in flight and
// the latency statistics of recent consultations; without a StatsSource
// (see [WithStats]) it reports no latencies.
func (s *service) GetStats(context.Context, *councilv1.GetStatsRequest) (*councilv1.GetStatsResponse, error) {
	resp := &councilv1.GetStatsResponse{}
	if s.stats != nil {
		resp = toStatsResponse(s.stats.Stats())
	}
	resp.AdmissionLimit = toInt32(s.admission.limit())
	resp.ConsultationsInFlight = toInt32(s.admission.inFlight())
	return resp, nil
}

// toStatsResponse converts a monitor snapshot.
func toStatsResponse(snap monitor.Snapshot) *councilv1.GetStatsResponse {
	resp := &councilv1.GetStatsResponse{
		Window:              toInt32(snap.Window),
		Consultations:       snap.Consultations,
		FailedConsultations: snap.Failed,
		Total:               toDistribution(snap.Total),
	}
	for _, st := range snap.Stages {
		resp.Stages = append(resp.Stages, &councilv1.StageLatency{
			Stage:     toStage(st.Stage),
			Threshold: optionalDuration(st.Threshold),
			Exceeded:  st.Exceeded,
			Latency:   toDistribution(st.Distribution),
		})
	}
	for _, m := range snap.Models {
		resp.Models = append(resp.Models, &councilv1.ModelLatency{
			Stage:      toStage(m.Stage),
			Model:      m.Model,
			Tier:       tierEnum(m.Tier),
			Failures:   m.Failures,
			Budget:     optionalDuration(m.Budget),
			OverBudget: m.OverBudget,
			Latency:    toDistribution(m.Distribution),
		})
	}
	return resp
}

// toDistribution converts a latency distribution.
func toDistribution(d monitor.Distribution) *councilv1.LatencyDistribution {
	return &councilv1.LatencyDistribution{
		Count: toInt32(d.Count),
		Min:   durationpb.New(d.Min),
		Mean:  durationpb.New(d.Mean),
		P50:   durationpb.New(d.P50),
		P90:   durationpb.New(d.P90),
		P95:   durationpb.New(d.P95),
		P99:   durationpb.New(d.P99),
		Max:   durationpb.New(d.Max),
	}
}

// optionalDuration leaves a zero duration unset.
func optionalDuration(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}
