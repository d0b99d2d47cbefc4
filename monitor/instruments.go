package monitor

import (
	"context"
	"sync"

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
	// MetricCost is the actual cost of the model calls in US dollars, by
	// council.model, council.stage, council.tier and council.caller;
	// Prometheus shows it as council_cost_usd_total.
	MetricCost = "council.cost.usd"
	// MetricCostEstimateRatio is the histogram of each successful call's
	// actual cost over its estimate, by council.stage: how far the
	// estimates cost caps plan with are from what calls cost.
	MetricCostEstimateRatio = "council.cost.estimate_ratio"
)

// Attribute keys of the histograms. The tier and stage keys are the ones
// the call spans and metrics use.
const (
	attrTier    = attribute.Key(provider.MetaTier)
	attrStage   = attribute.Key(provider.MetaStage)
	attrOutcome = attribute.Key("council.outcome")
	attrModel   = attribute.Key("council.model")
	attrCaller  = attribute.Key("council.caller")
)

// ratioBuckets are the boundaries of the actual-over-estimate histogram.
var ratioBuckets = []float64{0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1, 1.1, 1.5, 2}

// durationBuckets are the boundaries, in seconds, of the consultation and
// stage duration histograms: fine around the 5–7 s stage thresholds and
// the 12–27 s tier targets.
var durationBuckets = []float64{0.25, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 25, 30, 45, 60, 90, 120}

// instruments are the metrics [Monitor] records.
type instruments struct {
	consultation metric.Float64Histogram
	stage        metric.Float64Histogram
	cost         metric.Float64Counter
	costRatio    metric.Float64Histogram
	series       *seriesOptions
}

// maxCachedSeries bounds the series whose attributes are kept: past it, a
// new series' attributes are built again at every recording.
const maxCachedSeries = 4096

// seriesOptions keeps the attribute set of every series recorded, so that
// recording one again builds and allocates nothing.
type seriesOptions struct {
	mu sync.Mutex
	m  map[series]metric.MeasurementOption
}

// series names one series of one of the monitor's metrics: which of its
// fields are attributes depends on the metric.
type series struct {
	metric                              string
	tier, outcome, stage, model, caller string
}

// option returns the measurement option carrying s's attributes.
func (o *seriesOptions) option(s series) metric.MeasurementOption {
	o.mu.Lock()
	defer o.mu.Unlock()
	if opt, ok := o.m[s]; ok {
		return opt
	}
	opt := metric.WithAttributeSet(s.attributes())
	if len(o.m) < maxCachedSeries {
		o.m[s] = opt
	}
	return opt
}

// attributes returns the attributes of s's metric.
func (s series) attributes() attribute.Set {
	switch s.metric {
	case MetricConsultationDuration:
		return attribute.NewSet(attrTier.String(s.tier), attrOutcome.String(s.outcome))
	case MetricStageDuration:
		return attribute.NewSet(attrTier.String(s.tier), attrStage.String(s.stage))
	case MetricCost:
		return attribute.NewSet(attrModel.String(s.model), attrStage.String(s.stage), attrTier.String(s.tier), attrCaller.String(s.caller))
	default: // MetricCostEstimateRatio
		return attribute.NewSet(attrStage.String(s.stage))
	}
}

// newInstruments creates the consultation and stage histograms. The API
// never returns a nil instrument, even with an error, so errors (which only
// report invalid names) are dropped in favour of the no-op instruments
// returned alongside.
func newInstruments(m metric.Meter) instruments {
	c := instruments{series: &seriesOptions{m: make(map[series]metric.MeasurementOption)}}
	c.consultation, _ = m.Float64Histogram(MetricConsultationDuration,
		metric.WithDescription("End-to-end consultation duration, by tier and outcome."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	c.stage, _ = m.Float64Histogram(MetricStageDuration,
		metric.WithDescription("Consultation stage duration, by tier and stage."),
		metric.WithUnit("s"),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	c.cost, _ = m.Float64Counter(MetricCost,
		metric.WithDescription("Actual cost of model calls in US dollars, by model, stage, tier and caller."))
	c.costRatio, _ = m.Float64Histogram(MetricCostEstimateRatio,
		metric.WithDescription("Actual cost of a model call over its estimate, by stage."),
		metric.WithExplicitBucketBoundaries(ratioBuckets...))
	return c
}

// record records one consultation's duration and its stages' durations,
// and the cost of its successful calls.
func (c instruments) record(s orchestrator.Summary, stages []orchestrator.Stage) {
	ctx := context.Background()
	c.consultation.Record(ctx, s.Duration.Seconds(), c.series.option(series{metric: MetricConsultationDuration, tier: s.Tier, outcome: outcome(s)}))
	for _, st := range stages {
		c.stage.Record(ctx, s.StageDurations[st].Seconds(), c.series.option(series{metric: MetricStageDuration, tier: s.Tier, stage: st.String()}))
	}
	for _, call := range s.Calls {
		if !call.OK {
			continue
		}
		stage := call.Stage.String()
		c.cost.Add(ctx, call.CostUSD, c.series.option(series{metric: MetricCost, model: call.Model, stage: stage, tier: s.Tier, caller: s.Caller}))
		if call.EstimateUSD > 0 {
			c.costRatio.Record(ctx, call.CostUSD/call.EstimateUSD, c.series.option(series{metric: MetricCostEstimateRatio, stage: stage}))
		}
	}
}
