package telemetry

import (
	"context"

	"go.opentelemetry.io/otel/metric"
)

// Metric names of admission control.
const (
	// MetricAdmissionLimit is the number of consultations the server
	// admits at once now: the adaptive limit, or the configured maximum.
	MetricAdmissionLimit = "council.admission.limit"
	// MetricConsultationsInFlight is the number of consultations running.
	MetricConsultationsInFlight = "council.consultations.in_flight"
)

// ObserveAdmission registers two gauges on mp's council meter that report
// limit() as [MetricAdmissionLimit] and inFlight() as
// [MetricConsultationsInFlight] at every collection. Unregister the
// returned registration to stop them.
func ObserveAdmission(mp metric.MeterProvider, limit, inFlight func() int) (metric.Registration, error) {
	m := mp.Meter(InstrumentationName)
	limitGauge, err := m.Int64ObservableGauge(MetricAdmissionLimit,
		metric.WithDescription("Consultations admitted at once now: the adaptive admission limit, or the configured maximum."),
		metric.WithUnit("{consultation}"))
	if err != nil {
		return nil, err
	}
	inFlightGauge, err := m.Int64ObservableGauge(MetricConsultationsInFlight,
		metric.WithDescription("Consultations running now."),
		metric.WithUnit("{consultation}"))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(limitGauge, int64(limit()))
		o.ObserveInt64(inFlightGauge, int64(inFlight()))
		return nil
	}, limitGauge, inFlightGauge)
}
