package monitor

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/quantile"
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

// Counting the samples within the budget tells whether the p90 is over it,
// as the p90 itself would.
func TestP90OverAgreesWithThePercentile(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		samples := rapid.SliceOfN(rapid.Int64Range(0, 50), 1, 300).Draw(t, "samples")
		window := make([]time.Duration, len(samples))
		for i, s := range samples {
			window[i] = time.Duration(s) * time.Millisecond
		}
		budget := time.Duration(rapid.Int64Range(-1, 51).Draw(t, "budget")) * time.Millisecond
		if got, want := p90Over(window, budget), quantile.Of(window, 90) > budget; got != want {
			t.Fatalf("p90Over = %v, the p90 %v over the budget %v: %v", got, quantile.Of(window, 90), budget, want)
		}
	})
}
