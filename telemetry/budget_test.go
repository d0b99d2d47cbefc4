package telemetry

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

func TestObserveBudgetsReportsRemainingByCaller(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	remaining := map[string]float64{"token-1": 0.25, "token-2": 4}
	reg, err := ObserveBudgets(mp, func() map[string]float64 { return remaining })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = reg.Unregister() }()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricBudgetRemaining {
				continue
			}
			for _, dp := range m.Data.(metricdata.Gauge[float64]).DataPoints {
				caller, _ := dp.Attributes.Value(attrCaller)
				got[caller.AsString()] = dp.Value
			}
		}
	}
	if len(got) != 2 || got["token-1"] != 0.25 || got["token-2"] != 4 {
		t.Errorf("remaining by caller = %v, want %v", got, remaining)
	}
}
