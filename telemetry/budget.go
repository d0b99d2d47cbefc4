package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricBudgetRemaining is what remains of each caller's spending budget
// in US dollars, by council.caller; Prometheus shows it as
// council_budget_remaining_usd.
const MetricBudgetRemaining = "council.budget.remaining.usd"

// attrCaller is the caller attribute, as council_cost_usd_total has it.
const attrCaller = attribute.Key("council.caller")

// ObserveBudgets registers a gauge on mp's council meter that reports
// remaining(), US dollars by caller, as [MetricBudgetRemaining] at every
// collection. Unregister the returned registration to stop it.
func ObserveBudgets(mp metric.MeterProvider, remaining func() map[string]float64) (metric.Registration, error) {
	m := mp.Meter(InstrumentationName)
	gauge, err := m.Float64ObservableGauge(MetricBudgetRemaining,
		metric.WithDescription("What remains of each caller's spending budget in the current period, in US dollars, by caller."))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for caller, usd := range remaining() {
			o.ObserveFloat64(gauge, usd, metric.WithAttributes(attrCaller.String(caller)))
		}
		return nil
	}, gauge)
}
