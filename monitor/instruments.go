package monitor

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// InstrumentationName names the meter the monitor records with.
const InstrumentationName = "github.com/councilhq/council/monitor"

// Metric names.
const (
	// MetricConsultationDuration is the end-to-end consultation duration
	// histogram, by council.tier and council.outcome.
	MetricConsultationDuration = "council.consultation.duration"
	// MetricStageDuration is the stage duration histogram, by council.tier
	// and council.stage.
	MetricStageDuration = "council.stage.duration"
)

// Attribute keys of the histograms. The tier and stage keys are the ones
// the call spans and metrics use.
const (
	attrTier    = attribute.Key(provider.MetaTier)
	attrStage   = attribute.Key(provider.MetaStage)
	attrOutcome = attribute.Key("council.outcome")
)

// durationBuckets are the boundaries, in seconds, of the consultation and
// stage duration histograms: fine around the 5–7 s stage thresholds and
// the 12–27 s tier targets.
var durationBuckets = []float64{0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 25, 30, 45, 60, 90, 120}

// instruments are the metrics [Monitor] records.
type instruments struct {
	consultation metric.Float64Histogram
	stage        metric.Float64Histogram
}

// newInstruments creates the consultation and stage histograms. The API
// never returns a nil instrument, even with an error, so errors (which only
// report invalid names) are dropped in favour of the no-op instruments
// returned alongside.
func newInstruments(m metric.Meter) instruments {
	var c instruments
	c.consultation, _ = m.Float64Histogram(MetricConsultationDuration,
		metric.WithDescription("End-to-end consultation duration, by tier and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	c.stage, _ = m.Float64Histogram(MetricStageDuration,
		metric.WithDescription("Consultation stage duration, by tier and stage."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	return c
}

// record records one consultation's duration and its stages' durations.
func (c instruments) record(s orchestrator.Summary, stages []orchestrator.Stage) {
	ctx := context.Background()
	tier := attrTier.String(s.Tier)
	c.consultation.Record(ctx, s.Duration.Seconds(), metric.WithAttributes(tier, attrOutcome.String(outcome(s))))
	for _, st := range stages {
		c.stage.Record(ctx, s.StageDurations[st].Seconds(), metric.WithAttributes(tier, attrStage.String(st.String())))
	}
}
