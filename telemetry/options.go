package telemetry

import (
	"log/slog"
	"maps"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/orchestrator"
)

// Option configures [GenAIInterceptor] or [NewMonitor]. An option that
// concerns only one of them is ignored by the other.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	providerName   string
	captureContent bool

	logger     *slog.Logger
	thresholds map[orchestrator.Stage]time.Duration
	window     int
	maxSeries  int
	minSamples int
	tiers      []orchestrator.Tier
}

func newOptions(opts []Option) options {
	o := options{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
		providerName:   DefaultProviderName,
		logger:         slog.Default(),
		thresholds:     DefaultThresholds(),
		window:         DefaultWindow,
		maxSeries:      DefaultMaxModelSeries,
		minSamples:     DefaultMinSamples,
		tiers:          orchestrator.Tiers(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithTracerProvider sets the tracer provider [GenAIInterceptor] starts call
// spans from.
// Default: the global provider. A nil tp is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) {
		if tp != nil {
			o.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the meter provider the call, consultation and stage
// metrics are recorded with. Default: the global provider. A nil mp is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) {
		if mp != nil {
			o.meterProvider = mp
		}
	})
}

// WithProviderName sets the gen_ai.provider.name attribute of call spans. Default
// [DefaultProviderName]. An empty name is ignored.
func WithProviderName(name string) Option {
	return optionFunc(func(o *options) {
		if name != "" {
			o.providerName = name
		}
	})
}

// WithContentCapture records the request messages (gen_ai.input.messages)
// and the answer (gen_ai.output.messages) on call spans when on. Default off:
// prompts and answers may hold personal data.
func WithContentCapture(on bool) Option {
	return optionFunc(func(o *options) { o.captureContent = on })
}

// Monitor defaults.
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

// WithLogger sets the logger [Monitor] writes to. Default slog.Default().
// A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithThresholds overrides the warning thresholds of the stages it names;
// the others keep [DefaultThresholds]. A threshold of zero or less turns
// that stage's warning off.
func WithThresholds(th map[orchestrator.Stage]time.Duration) Option {
	return optionFunc(func(o *options) {
		o.thresholds = maps.Clone(o.thresholds)
		maps.Copy(o.thresholds, th)
	})
}

// WithWindow sets how many recent samples each [Monitor] series keeps.
// Default [DefaultWindow]; n <= 0 is ignored.
func WithWindow(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.window = n
		}
	})
}

// WithMaxModelSeries caps how many (stage, model) series [Monitor] keeps;
// past it the least recently used one is dropped. Default
// [DefaultMaxModelSeries]; n <= 0 is ignored.
func WithMaxModelSeries(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxSeries = n
		}
	})
}

// WithMinSamples sets how many samples a model series needs before
// [Monitor] compares its p90 with the tier's promise. Default
// [DefaultMinSamples]; n <= 0 is ignored.
func WithMinSamples(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.minSamples = n
		}
	})
}

// WithTiers sets the tiers whose promises [Monitor] checks, looked up by
// the consultation's tier name. Default orchestrator.Tiers().
func WithTiers(tiers []orchestrator.Tier) Option {
	return optionFunc(func(o *options) { o.tiers = tiers })
}
