package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is the service.name used unless OTEL_SERVICE_NAME or
// OTEL_RESOURCE_ATTRIBUTES names another.
const DefaultServiceName = "councild"

// Providers are the OpenTelemetry providers [Setup] built, for wiring into
// the gRPC server (otelgrpc), the orchestrator and [GenAIInterceptor].
type Providers struct {
	// TracerProvider is a no-op provider when tracing is off.
	TracerProvider trace.TracerProvider
	// MeterProvider is a no-op provider when every metric reader is off.
	MeterProvider metric.MeterProvider
	// Propagator is the propagator OTEL_PROPAGATORS names; by default W3C
	// TraceContext and Baggage.
	Propagator propagation.TextMapPropagator
	// MetricsHandler serves the metrics in the Prometheus text format; nil
	// unless Config.Prometheus is set. Mount it at /metrics on an admin port.
	MetricsHandler http.Handler
	// Tracing reports whether spans are exported.
	Tracing bool
}

// Setup builds the providers cfg and the environment ask for and installs
// them, with the propagator, as the OpenTelemetry globals. Spans are
// exported when OTEL_TRACES_EXPORTER names an exporter (otlp, console), or
// when it is unset and an OTLP endpoint is set; metrics likewise with
// OTEL_METRICS_EXPORTER (its prometheus value is served by
// Config.Prometheus instead). OTLP speaks gRPC unless
// OTEL_EXPORTER_OTLP_PROTOCOL (or the signal's own variable) says
// http/protobuf. OTEL_SDK_DISABLED=true turns both off. With nothing to
// export and no Prometheus it builds nothing and returns no-op providers,
// which cost nothing. The returned shutdown flushes pending spans and
// metrics and stops the exporters; it is safe to call more than once and
// never nil. If Setup fails partway it shuts down what it had started
// before returning.
func Setup(ctx context.Context, cfg Config) (p Providers, shutdown func(context.Context) error, err error) {
	var (
		mu        sync.Mutex
		shutdowns []func(context.Context) error
	)
	shutdown = func(ctx context.Context) error {
		mu.Lock()
		fns := shutdowns
		shutdowns = nil
		mu.Unlock()
		var errs []error
		for i := len(fns) - 1; i >= 0; i-- {
			errs = append(errs, fns[i](ctx))
		}
		return errors.Join(errs...)
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, shutdown(ctx))
			p = Providers{}
		}
	}()

	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	env, err := settingsFromEnv(cfg.Getenv)
	if err != nil {
		return p, shutdown, err
	}
	p = Providers{
		TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider:  metricnoop.NewMeterProvider(),
		Propagator:     env.propagator,
	}
	otel.SetTextMapPropagator(p.Propagator)
	if !env.traces.on && !env.metrics.on && !cfg.Prometheus {
		return p, shutdown, nil
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("telemetry error", "err", err)
	}))

	res, err := newResource(ctx, cfg)
	if err != nil {
		return p, shutdown, err
	}

	if env.traces.on {
		exp, err := newSpanExporter(ctx, env.traces)
		if err != nil {
			return p, shutdown, fmt.Errorf("telemetry: trace exporter: %w", err)
		}
		// The sampler is the one OTEL_TRACES_SAMPLER names, parent-based
		// always-on by default.
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithResource(res))
		shutdowns = append(shutdowns, tp.Shutdown)
		p.TracerProvider, p.Tracing = tp, true
		otel.SetTracerProvider(tp)
	}

	var readers []sdkmetric.Option
	if env.metrics.on {
		r, err := newMetricReader(ctx, env.metrics)
		if err != nil {
			return p, shutdown, fmt.Errorf("telemetry: metric exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(r))
	}
	if cfg.Prometheus {
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg))
		if err != nil {
			return p, shutdown, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		readers = append(readers, sdkmetric.WithReader(exp))
		p.MetricsHandler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	}
	if len(readers) > 0 {
		mp := sdkmetric.NewMeterProvider(append(readers, sdkmetric.WithResource(res))...)
		shutdowns = append(shutdowns, mp.Shutdown)
		p.MeterProvider = mp
		otel.SetMeterProvider(mp)
	}
	return p, shutdown, nil
}

// newResource describes this process: service.name (default
// [DefaultServiceName]) and service.version, then what OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES say, which wins, then the SDK and the host.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{attribute.String("service.name", DefaultServiceName)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(attrs...),
		resource.WithFromEnv(),
		resource.WithTelemetrySDK(),
		resource.WithHost())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}
