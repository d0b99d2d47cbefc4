package telemetry

import (
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Config says what [Setup] builds. The zero value turns everything off.
type Config struct {
	// ServiceName is the service.name resource attribute. Default "councild".
	ServiceName string
	// ServiceVersion is the service.version resource attribute, if set.
	ServiceVersion string
	// ResourceAttributes are extra resource attributes (OTEL_RESOURCE_ATTRIBUTES).
	ResourceAttributes map[string]string
	// TracesEndpoint is the OTLP gRPC endpoint URL spans are exported to,
	// e.g. "http://127.0.0.1:4317" (an http scheme means no TLS). Empty
	// turns tracing off.
	TracesEndpoint string
	// MetricsEndpoint is the OTLP gRPC endpoint URL metrics are exported
	// to. Empty turns OTLP metric export off.
	MetricsEndpoint string
	// Headers are sent with every OTLP export (OTEL_EXPORTER_OTLP_HEADERS).
	Headers map[string]string
	// Sampler decides which traces are kept. Default: parent-based,
	// sampling every root.
	Sampler sdktrace.Sampler
	// MetricInterval is the OTLP metric export interval. Default 60 s.
	MetricInterval time.Duration
	// Prometheus serves metrics in the Prometheus text format through
	// [Providers.MetricsHandler].
	Prometheus bool
	// CaptureContent records prompts and answers on call spans
	// (see [WithContentCapture]). Default off.
	CaptureContent bool
	// Logger receives export errors. Default slog.Default().
	Logger *slog.Logger
}

// Environment variables read by [ConfigFromEnv].
const (
	EnvSDKDisabled        = "OTEL_SDK_DISABLED"
	EnvServiceName        = "OTEL_SERVICE_NAME"
	EnvResourceAttributes = "OTEL_RESOURCE_ATTRIBUTES"
	EnvEndpoint           = "OTEL_EXPORTER_OTLP_ENDPOINT"
	EnvTracesEndpoint     = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
	EnvMetricsEndpoint    = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"
	EnvHeaders            = "OTEL_EXPORTER_OTLP_HEADERS"
	EnvTracesExporter     = "OTEL_TRACES_EXPORTER"
	EnvMetricsExporter    = "OTEL_METRICS_EXPORTER"
	EnvSampler            = "OTEL_TRACES_SAMPLER"
	EnvSamplerArg         = "OTEL_TRACES_SAMPLER_ARG"
	EnvMetricInterval     = "OTEL_METRIC_EXPORT_INTERVAL"
	EnvCaptureContent     = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
)

// ConfigFromEnv builds a Config from the standard OpenTelemetry environment
// variables, read through getenv (os.Getenv in a binary, a map in tests):
// the OTEL_EXPORTER_OTLP_* endpoints and headers, OTEL_SERVICE_NAME,
// OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
// OTEL_METRIC_EXPORT_INTERVAL, OTEL_TRACES_EXPORTER and
// OTEL_METRICS_EXPORTER ("none" turns one signal off), OTEL_SDK_DISABLED,
// and OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT. Prometheus and
// Logger are left for the caller. It fails on a malformed value.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	var c Config
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }

	c.ServiceName = get(EnvServiceName)
	attrs, err := parseKeyValues(get(EnvResourceAttributes))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvResourceAttributes, err)
	}
	c.ResourceAttributes = attrs
	if c.Headers, err = parseKeyValues(get(EnvHeaders)); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvHeaders, err)
	}
	if b, err := parseBool(get(EnvCaptureContent)); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvCaptureContent, err)
	} else {
		c.CaptureContent = b
	}
	if disabled, err := parseBool(get(EnvSDKDisabled)); err != nil {
		return Config{}, fmt.Errorf("%s: %w", EnvSDKDisabled, err)
	} else if disabled {
		return c, nil
	}

	base := get(EnvEndpoint)
	c.TracesEndpoint = firstNonEmpty(get(EnvTracesEndpoint), base)
	c.MetricsEndpoint = firstNonEmpty(get(EnvMetricsEndpoint), base)
	for _, ep := range []string{c.TracesEndpoint, c.MetricsEndpoint} {
		if err := checkEndpoint(ep); err != nil {
			return Config{}, err
		}
	}
	if v := get(EnvTracesExporter); v != "" && v != "otlp" {
		if v != "none" {
			return Config{}, fmt.Errorf("%s=%q: only otlp and none are supported", EnvTracesExporter, v)
		}
		c.TracesEndpoint = ""
	}
	if v := get(EnvMetricsExporter); v != "" && v != "otlp" && v != "prometheus" {
		if v != "none" {
			return Config{}, fmt.Errorf("%s=%q: only otlp, prometheus and none are supported", EnvMetricsExporter, v)
		}
		c.MetricsEndpoint = ""
	} else if v == "prometheus" {
		c.MetricsEndpoint = ""
	}

	if c.Sampler, err = parseSampler(get(EnvSampler), get(EnvSamplerArg)); err != nil {
		return Config{}, err
	}
	if v := get(EnvMetricInterval); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return Config{}, fmt.Errorf("%s=%q: want a positive number of milliseconds", EnvMetricInterval, v)
		}
		c.MetricInterval = time.Duration(ms) * time.Millisecond
	}
	return c, nil
}

// checkEndpoint accepts an empty endpoint or an http or https URL with a host.
func checkEndpoint(ep string) error {
	if ep == "" {
		return nil
	}
	if u, err := url.Parse(ep); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("OTLP endpoint %q: want a URL such as http://127.0.0.1:4317", ep)
	}
	return nil
}

// parseSampler builds the sampler OTEL_TRACES_SAMPLER names, with
// OTEL_TRACES_SAMPLER_ARG as the ratio of the traceidratio samplers
// (default 1). An empty name means the default, parentbased_always_on.
func parseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" && strings.HasSuffix(name, "traceidratio") {
		f, err := strconv.ParseFloat(arg, 64)
		if err != nil || f < 0 || f > 1 {
			return nil, fmt.Errorf("%s=%q: want a number in [0, 1]", EnvSamplerArg, arg)
		}
		ratio = f
	}
	switch name {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	}
	return nil, fmt.Errorf("%s=%q: unsupported sampler", EnvSampler, name)
}

// parseKeyValues parses the W3C-baggage-like "k1=v1,k2=v2" list the OTel
// environment variables use; values are percent-decoded.
func parseKeyValues(s string) (map[string]string, error) {
	if s == "" {
		return nil, nil
	}
	out := make(map[string]string)
	for _, part := range strings.Split(s, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%q is not key=value", part)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("value of %q is not percent-encoded", k)
		}
		out[k] = dv
	}
	return out, nil
}

// parseBool accepts an empty string (false) and the forms strconv.ParseBool does.
func parseBool(s string) (bool, error) {
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, fmt.Errorf("%q is not a boolean", s)
	}
	return b, nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
