package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/contrib/propagators/autoprop"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config says what [Setup] builds. Everything else comes from the standard
// OTEL_* environment variables, which the OpenTelemetry SDK, its OTLP
// exporters and autoexport read: endpoints, headers, protocols, TLS,
// timeouts, OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, the sampler
// (OTEL_TRACES_SAMPLER and its argument) and OTEL_METRIC_EXPORT_INTERVAL.
type Config struct {
	// Getenv reads the few variables that decide what is exported:
	// OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER, the
	// OTLP endpoints and protocols, and OTEL_PROPAGATORS. It must see the
	// process environment, which the SDK reads for the rest. Nil means
	// none is set: nothing is exported.
	Getenv func(string) string
	// ServiceVersion is the service.version resource attribute, if set;
	// OTEL_RESOURCE_ATTRIBUTES overrides it.
	ServiceVersion string
	// Prometheus serves metrics in the Prometheus text format through
	// [Providers.MetricsHandler].
	Prometheus bool
	// Logger receives export errors. Default slog.Default().
	Logger *slog.Logger
}

// Environment variables that [Setup] reads through Config.Getenv.
const (
	EnvSDKDisabled     = "OTEL_SDK_DISABLED"
	EnvEndpoint        = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint  = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvMetricsEndpoint = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvProtocol        = "OTEL_EXPORTER_OTLP_PROTOCOL"
	EnvTracesProtocol  = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	EnvMetricsProtocol = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"
	EnvTracesExporter  = "OTEL_TRACES_EXPORTER"
	EnvMetricsExporter = "OTEL_METRICS_EXPORTER"
	EnvPropagators     = "OTEL_PROPAGATORS"
)

// signal is what the environment says about exporting one signal.
type signal struct {
	// on says whether the signal is exported: OTEL_*_EXPORTER names an
	// exporter other than none, or it is unset and an OTLP endpoint is set.
	on bool
	// grpcDefault is set when the exporter is OTLP and no protocol is
	// named: councild then speaks gRPC, where the SDK would default to
	// http/protobuf.
	grpcDefault bool
}

// signalFromEnv reads the exporter, endpoint and protocol variables of one
// signal. skip names exporters that Setup does not build (for metrics,
// prometheus, which Config.Prometheus serves instead).
func signalFromEnv(get func(string) string, exporterVar, endpointVar, protocolVar string, skip ...string) signal {
	exporter := get(exporterVar)
	var s signal
	switch {
	case exporter == "":
		s.on = get(EnvEndpoint) != "" || get(endpointVar) != ""
	case exporter == "none":
	default:
		s.on = true
		for _, name := range skip {
			if exporter == name {
				s.on = false
			}
		}
	}
	s.grpcDefault = s.on && (exporter == "" || exporter == "otlp") && get(EnvProtocol) == "" && get(protocolVar) == ""
	return s
}

// settings is what the environment says Setup should build.
type settings struct {
	traces, metrics signal
	propagator      propagation.TextMapPropagator
}

// settingsFromEnv reads cfg.Getenv. OTEL_SDK_DISABLED=true turns both
// signals off; OTEL_PROPAGATORS names the propagators (default tracecontext
// and baggage).
func settingsFromEnv(getenv func(string) string) (settings, error) {
	get := func(k string) string {
		if getenv == nil {
			return ""
		}
		return strings.TrimSpace(getenv(k))
	}
	var s settings
	var err error
	s.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	if v := get(EnvPropagators); v != "" {
		names := strings.Split(v, ",")
		for i := range names {
			names[i] = strings.TrimSpace(names[i])
		}
		if s.propagator, err = autoprop.TextMapPropagator(names...); err != nil {
			return settings{}, fmt.Errorf("telemetry: %s=%q: %w", EnvPropagators, v, err)
		}
	}
	if v := get(EnvSDKDisabled); v != "" {
		disabled, err := strconv.ParseBool(v)
		if err != nil {
			return settings{}, fmt.Errorf("telemetry: %s=%q is not a boolean", EnvSDKDisabled, v)
		}
		if disabled {
			return s, nil
		}
	}
	s.traces = signalFromEnv(get, EnvTracesExporter, EnvTracesEndpoint, EnvTracesProtocol)
	s.metrics = signalFromEnv(get, EnvMetricsExporter, EnvMetricsEndpoint, EnvMetricsProtocol, "prometheus")
	return s, nil
}

// newSpanExporter builds the span exporter the environment names.
func newSpanExporter(ctx context.Context, s signal) (sdktrace.SpanExporter, error) {
	if s.grpcDefault {
		return otlptracegrpc.New(ctx)
	}
	return autoexport.NewSpanExporter(ctx)
}

// newMetricReader builds the metric reader the environment names.
func newMetricReader(ctx context.Context, s signal) (sdkmetric.Reader, error) {
	if s.grpcDefault {
		exp, err := otlpmetricgrpc.New(ctx)
		if err != nil {
			return nil, err
		}
		return sdkmetric.NewPeriodicReader(exp), nil
	}
	return autoexport.NewMetricReader(ctx)
}
