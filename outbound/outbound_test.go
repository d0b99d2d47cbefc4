package outbound_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clientOf returns an OpenRouter client of up, both closed when the test
// ends.
func clientOf(t *testing.T, up *openroutertest.Server) *openrouter.Client {
	t.Helper()
	t.Cleanup(up.Close)
	transport := openrouter.NewTransport()
	t.Cleanup(transport.CloseIdleConnections)
	client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: up.URL(), APIKey: up.Key()})
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// The chain retries a failed call over the real wire and reports the attempts.
func TestChainRetriesOverTheWire(t *testing.T) {
	up := openroutertest.NewServer(openroutertest.WithScript(func(model string, n int) openroutertest.Behavior {
		if n == 1 {
			return openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: http.StatusServiceUnavailable}
		}
		return openroutertest.Behavior{}
	}))
	client := clientOf(t, up)
	chain := outbound.New(client, outbound.Config{Hedge: map[string]string{"m/a": "m/b"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := chain.Complete(ctx, &provider.Request{Model: "m/a", Messages: []provider.Message{{Role: provider.RoleUser, Content: "q"}}})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Attempts != 2 || up.RequestsFor("m/a") != 2 || up.RequestsFor("m/b") != 0 {
		t.Fatalf("attempts %d, upstream saw %d calls to m/a and %d to m/b; want one retry and no hedge", resp.Attempts, up.RequestsFor("m/a"), up.RequestsFor("m/b"))
	}
}

// With tracing off, the real retry and limiter report their events to the
// telemetry: a retried 429 and a wait for the in-flight cap are counted.
func TestChainCountsLimiterEventsWithTracingOff(t *testing.T) {
	// m/limited is refused once with a 429; m/slow answers after 300 ms.
	up := openroutertest.NewServer(openroutertest.WithScript(func(model string, n int) openroutertest.Behavior {
		if model == "m/limited" && n == 1 {
			reset := strconv.FormatInt(time.Now().Add(200*time.Millisecond).UnixMilli(), 10)
			return openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: http.StatusTooManyRequests, Headers: map[string]string{"X-RateLimit-Reset": reset}}
		}
		if model == "m/slow" {
			return openroutertest.Behavior{Latency: 300 * time.Millisecond}
		}
		return openroutertest.Behavior{}
	}))
	client := clientOf(t, up)
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(context.Background()) }()
	// No tracer provider: call spans do not record.
	chain := outbound.New(client, outbound.Config{Telemetry: telemetry.Providers{MeterProvider: mp}, MaxInFlight: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	complete := func(model string) error {
		_, err := chain.Complete(ctx, &provider.Request{Model: model, Messages: []provider.Message{{Role: provider.RoleUser, Content: "q"}}})
		return err
	}

	// A 429, then the answer once the announced reset has passed.
	if err := complete("m/limited"); err != nil {
		t.Fatal(err)
	}
	// A second call while the first holds the one in-flight slot queues.
	errs := make(chan error, 1)
	go func() { errs <- complete("m/slow") }()
	for up.RequestsFor("m/slow") == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := complete("m/slow"); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatal(err)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	if got := counterSum(rm, telemetry.MetricModelRateLimited, ""); got != 1 {
		t.Errorf("%s = %d, want 1 (the retried first attempt)", telemetry.MetricModelRateLimited, got)
	}
	if got := counterSum(rm, telemetry.MetricModelWaits, "in_flight"); got != 1 {
		t.Errorf("%s{in_flight} = %d, want 1: the call that found the one slot taken", telemetry.MetricModelWaits, got)
	}
}

// counterSum adds up the data points of the named counter, only those with
// council.reason = reason when reason is set.
func counterSum(rm metricdata.ResourceMetrics, name, reason string) int64 {
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if m.Name != name || !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				if v, _ := dp.Attributes.Value(telemetry.AttrReason); reason == "" || v.AsString() == reason {
					n += dp.Value
				}
			}
		}
	}
	return n
}
