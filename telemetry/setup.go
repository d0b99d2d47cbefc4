package telemetry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
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

// DefaultServiceName is the service.name used when Config.ServiceName is empty.
const DefaultServiceName = "councild"

// Providers are the OpenTelemetry providers [Setup] built, for wiring into
// the gRPC server (otelgrpc), the orchestrator and [GenAIInterceptor].
type Providers struct {
	// TracerProvider is a no-op provider when tracing is off.
	TracerProvider trace.TracerProvider
	// MeterProvider is a no-op provider when every metric reader is off.
	MeterProvider metric.MeterProvider
	// Propagator is the W3C TraceContext and Baggage propagator.
	Propagator propagation.TextMapPropagator
	// MetricsHandler serves the metrics in the Prometheus text format; nil
	// unless Config.Prometheus is set. Mount it at /metrics on an admin port.
	MetricsHandler http.Handler
	// Tracing reports whether spans are exported.
	Tracing bool
}

// Setup builds the providers cfg asks for and installs them, with the
// propagator, as the OpenTelemetry globals. With no endpoint and no
// Prometheus it builds nothing and returns no-op providers, which cost
// nothing. The returned shutdown flushes pending spans and metrics and stops
// the exporters; it is safe to call more than once and never nil. If Setup
// fails partway it shuts down what it had started before returning.
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
	p = Providers{
		TracerProvider: tracenoop.NewTracerProvider(),
		MeterProvider:  metricnoop.NewMeterProvider(),
		Propagator:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
	}
	otel.SetTextMapPropagator(p.Propagator)
	if cfg.TracesEndpoint == "" && cfg.MetricsEndpoint == "" && !cfg.Prometheus {
		return p, shutdown, nil
	}
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		logger.Warn("telemetry export failed", "err", err)
	}))

	for _, ep := range []string{cfg.TracesEndpoint, cfg.MetricsEndpoint} {
		if err := checkEndpoint(ep); err != nil {
			return p, shutdown, fmt.Errorf("telemetry: %w", err)
		}
	}
	res, err := newResource(ctx, cfg)
	if err != nil {
		return p, shutdown, err
	}

	if cfg.TracesEndpoint != "" {
		exp, err := otlptracegrpc.New(ctx,
			otlptracegrpc.WithEndpointURL(cfg.TracesEndpoint),
			otlptracegrpc.WithHeaders(cfg.Headers))
		if err != nil {
			return p, shutdown, fmt.Errorf("telemetry: trace exporter: %w", err)
		}
		sampler := cfg.Sampler
		if sampler == nil {
			sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
		}
		tp := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithResource(res),
			sdktrace.WithSampler(sampler))
		shutdowns = append(shutdowns, tp.Shutdown)
		p.TracerProvider, p.Tracing = tp, true
		otel.SetTracerProvider(tp)
	}

	var readers []sdkmetric.Option
	if cfg.MetricsEndpoint != "" {
		exp, err := otlpmetricgrpc.New(ctx,
			otlpmetricgrpc.WithEndpointURL(cfg.MetricsEndpoint),
			otlpmetricgrpc.WithHeaders(cfg.Headers))
		if err != nil {
			return p, shutdown, fmt.Errorf("telemetry: metric exporter: %w", err)
		}
		interval := cfg.MetricInterval
		if interval <= 0 {
			interval = time.Minute
		}
		readers = append(readers, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))))
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

// newResource describes this process: service name and version, the extra
// attributes of cfg, the SDK and the host.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	name := cfg.ServiceName
	if name == "" {
		name = DefaultServiceName
	}
	attrs := []attribute.KeyValue{attribute.String("service.name", name)}
	if cfg.ServiceVersion != "" {
		attrs = append(attrs, attribute.String("service.version", cfg.ServiceVersion))
	}
	for k, v := range cfg.ResourceAttributes {
		if k != "service.name" || cfg.ServiceName == "" {
			attrs = append(attrs, attribute.String(k, v))
		}
	}
	res, err := resource.New(ctx,
		resource.WithTelemetrySDK(),
		resource.WithHost(),
		resource.WithAttributes(attrs...))
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	return res, nil
}
