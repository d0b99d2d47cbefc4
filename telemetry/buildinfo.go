package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricBuildInfo is a gauge that is always 1, with the build as attributes
// (version, revision, toolchain), so a dashboard can tell which build each
// instance runs.
const MetricBuildInfo = "council.build.info"

// ObserveBuildInfo registers [MetricBuildInfo] on mp's council meter.
// Unregister the returned registration to stop it.
func ObserveBuildInfo(mp metric.MeterProvider, version, revision, goVersion string) (metric.Registration, error) {
	m := mp.Meter(InstrumentationName)
	g, err := m.Int64ObservableGauge(MetricBuildInfo,
		metric.WithDescription("The build of the running councild: always 1, with the version, VCS revision and Go version as attributes."))
	if err != nil {
		return nil, err
	}
	attrs := metric.WithAttributes(
		attribute.String("version", version),
		attribute.String("revision", revision),
		attribute.String("go_version", goVersion))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(g, 1, attrs)
		return nil
	}, g)
}
