package monitor

import (
	"fmt"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Past the cap, series keep their attributes but are no longer kept.
func TestSeriesOptionsCap(t *testing.T) {
	o := &seriesOptions{m: make(map[series]metric.MeasurementOption)}
	for i := range maxCachedSeries + 10 {
		s := series{metric: MetricCost, model: fmt.Sprint("m", i), stage: "collect", tier: "balanced", caller: "token-1"}
		cfg := metric.NewAddConfig([]metric.AddOption{o.option(s)})
		set := cfg.Attributes()
		if v, _ := set.Value(attribute.Key("council.model")); v.AsString() != s.model {
			t.Fatalf("series %d: model = %q", i, v.AsString())
		}
		if set.Len() != 4 {
			t.Fatalf("series %d: %d attributes, want 4", i, set.Len())
		}
	}
	if len(o.m) != maxCachedSeries {
		t.Errorf("%d series kept, want %d", len(o.m), maxCachedSeries)
	}
}
