package telemetry

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Option configures [Calls].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	tracerProvider trace.TracerProvider
	meterProvider  metric.MeterProvider
	captureContent bool
}

func newOptions(opts []Option) options {
	o := options{
		tracerProvider: otel.GetTracerProvider(),
		meterProvider:  otel.GetMeterProvider(),
	}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithTracerProvider sets the tracer provider [Calls] starts call
// spans from.
// Default: the global provider. A nil tp is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) {
		if tp != nil {
			o.tracerProvider = tp
		}
	})
}

// WithMeterProvider sets the meter provider the call metrics are recorded
// with. Default: the global provider. A nil mp is ignored.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(o *options) {
		if mp != nil {
			o.meterProvider = mp
		}
	})
}

// WithContentCapture records the request messages (gen_ai.input.messages)
// and the answer (gen_ai.output.messages) on call spans when on. Default off:
// prompts and answers may hold personal data.
func WithContentCapture(on bool) Option {
	return optionFunc(func(o *options) { o.captureContent = on })
}
