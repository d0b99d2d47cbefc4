package telemetry

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestObserveAdmissionReportsTheGauges(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	limit, inFlight := 120, 7
	reg, err := ObserveAdmission(mp, func() int { return limit }, func() int { return inFlight })
	if err != nil {
		t.Fatal(err)
	}
	gauges := func() map[string]int64 {
		var rm metricdata.ResourceMetrics
		if err := reader.Collect(context.Background(), &rm); err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				if g, ok := m.Data.(metricdata.Gauge[int64]); ok && len(g.DataPoints) == 1 {
					out[m.Name] = g.DataPoints[0].Value
				}
			}
		}
		return out
	}
	if got := gauges(); got[MetricAdmissionLimit] != 120 || got[MetricConsultationsInFlight] != 7 {
		t.Errorf("gauges %v, want limit 120 and 7 in flight", got)
	}
	limit, inFlight = 40, 40
	if got := gauges(); got[MetricAdmissionLimit] != 40 || got[MetricConsultationsInFlight] != 40 {
		t.Errorf("gauges %v after a change, want 40 and 40", got)
	}
	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	if got := gauges(); len(got) != 0 {
		t.Errorf("gauges %v after Unregister, want none", got)
	}
}
