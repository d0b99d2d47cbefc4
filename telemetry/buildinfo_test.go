package telemetry

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestObserveBuildInfoReportsTheBuild(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	reg, err := ObserveBuildInfo(mp, "v1.2.0", "abc123", "go1.26")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricBuildInfo {
				continue
			}
			g := m.Data.(metricdata.Gauge[int64])
			if len(g.DataPoints) != 1 || g.DataPoints[0].Value != 1 {
				t.Fatalf("data points %+v", g.DataPoints)
			}
			want := attribute.NewSet(attribute.String("version", "v1.2.0"), attribute.String("revision", "abc123"), attribute.String("go_version", "go1.26"))
			if got := g.DataPoints[0].Attributes; !got.Equals(&want) {
				t.Errorf("attributes %v, want %v", got.ToSlice(), want.ToSlice())
			}
			return
		}
	}
	t.Fatalf("no %s in %+v", MetricBuildInfo, rm)
}
