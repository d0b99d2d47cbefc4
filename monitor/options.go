package monitor

import (
	"log/slog"
	"maps"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"

	"github.com/councilhq/council/orchestrator"
)

// Option configures [New].
type Option func(*options)

type options struct {
	meterProvider metric.MeterProvider
	logger        *slog.Logger
	thresholds    map[orchestrator.Stage]time.Duration
	window        int
	maxSeries     int
	minSamples    int
	tiers         []orchestrator.Tier
}

func newOptions(opts []Option) options {
	o := options{
		meterProvider: otel.GetMeterProvider(),
		logger:        slog.Default(),
		thresholds:    DefaultThresholds(),
		window:        DefaultWindow,
		maxSeries:     DefaultMaxModelSeries,
		minSamples:    DefaultMinSamples,
		tiers:         orchestrator.Tiers(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// Defaults.
const (
	// DefaultWindow is how many recent samples each series keeps.
	DefaultWindow = 1024
	// DefaultMaxModelSeries caps the (stage, model) series kept at once.
	DefaultMaxModelSeries = 64
	// DefaultMinSamples is how many samples a model series needs before its
	// p90 is compared with its tier's promise.
	DefaultMinSamples = 20
)

// DefaultThresholds returns the stage durations past which [Monitor] warns:
// 5 s for collect, 5 s for review and 7 s for synthesize.
func DefaultThresholds() map[orchestrator.Stage]time.Duration {
	return map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect:    5 * time.Second,
		orchestrator.StageReview:     5 * time.Second,
		orchestrator.StageSynthesize: 7 * time.Second,
	}
}

// WithMeterProvider sets the meter provider the consultation and stage
// duration histograms are recorded with. Default: the global provider. A nil
// mp is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(o *options) {
		if mp != nil {
			o.meterProvider = mp
		}
	}
}

// WithLogger sets the logger [Monitor] writes to. Default slog.Default().
// A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithThresholds overrides the warning thresholds of the stages it names;
// the others keep [DefaultThresholds]. A threshold of zero or less turns
// that stage's warning off.
func WithThresholds(th map[orchestrator.Stage]time.Duration) Option {
	return func(o *options) {
		o.thresholds = maps.Clone(o.thresholds)
		maps.Copy(o.thresholds, th)
	}
}

// WithWindow sets how many recent samples each [Monitor] series keeps.
// Default [DefaultWindow]; n <= 0 is ignored.
func WithWindow(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.window = n
		}
	}
}

// WithMaxModelSeries caps how many (stage, model) series [Monitor] keeps;
// past it the least recently used one is dropped. Default
// [DefaultMaxModelSeries]; n <= 0 is ignored.
func WithMaxModelSeries(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.maxSeries = n
		}
	}
}

// WithMinSamples sets how many samples a model series needs before
// [Monitor] compares its p90 with the tier's promise. Default
// [DefaultMinSamples]; n <= 0 is ignored.
func WithMinSamples(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.minSamples = n
		}
	}
}

// WithTiers sets the tiers whose promises [Monitor] checks, looked up by
// the consultation's tier name. Default orchestrator.Tiers().
func WithTiers(tiers []orchestrator.Tier) Option {
	return func(o *options) { o.tiers = tiers }
}
