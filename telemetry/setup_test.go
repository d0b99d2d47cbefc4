package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	collmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

func TestSetupOffIsNoop(t *testing.T) {
	p, shutdown, err := Setup(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Tracing || p.MetricsHandler != nil {
		t.Errorf("providers = %+v, want tracing off and no metrics handler", p)
	}
	_, span := p.TracerProvider.Tracer("t").Start(context.Background(), "x")
	if span.IsRecording() {
		t.Errorf("span records with telemetry off")
	}
	span.End()
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

func TestSetupServesPrometheus(t *testing.T) {
	p, shutdown, err := Setup(context.Background(), Config{Prometheus: true, ServiceName: "councild-prom", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := shutdown(context.Background()); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}()
	if p.MetricsHandler == nil {
		t.Fatal("no metrics handler")
	}
	base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
		return &provider.Response{Content: "ok", Usage: provider.Usage{InputTokens: 9, OutputTokens: 4}}, nil
	})
	c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(p.TracerProvider), WithMeterProvider(p.MeterProvider)))
	if _, err := c.Complete(context.Background(), chatRequest("openai/gpt-4o-mini")); err != nil {
		t.Fatal(err)
	}
	monitor.New(monitor.WithLogger(slog.New(slog.DiscardHandler)), monitor.WithMeterProvider(p.MeterProvider)).ConsultationFinished(context.Background(), orchestrator.Summary{
		Tier: "speed", Duration: 3 * time.Second, StageDurations: map[orchestrator.Stage]time.Duration{orchestrator.StageCollect: time.Second},
	})

	srv := httptest.NewServer(p.MetricsHandler)
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	srv.Client().CloseIdleConnections()
	text := string(body)
	for _, want := range []string{
		`gen_ai_client_operation_duration_seconds_count{`,
		`gen_ai_request_model="openai/gpt-4o-mini"`,
		`gen_ai_client_token_usage`,
		`council_consultation_duration_seconds_count{`,
		`council_stage_duration_seconds_bucket{`,
		`go_goroutines`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

// collector is an OTLP gRPC receiver that keeps what it is sent.
type collector struct {
	colltracepb.UnimplementedTraceServiceServer
	collmetricpb.UnimplementedMetricsServiceServer
	mu      sync.Mutex
	traces  []*colltracepb.ExportTraceServiceRequest
	metrics []*collmetricpb.ExportMetricsServiceRequest
}

func (c *collector) Export(_ context.Context, r *colltracepb.ExportTraceServiceRequest) (*colltracepb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.traces = append(c.traces, r)
	return &colltracepb.ExportTraceServiceResponse{}, nil
}

// metricsService adapts the collector to the metrics service, whose
// method has the same name as the trace service's.
type metricsService struct{ *collector }

func (m metricsService) Export(_ context.Context, r *collmetricpb.ExportMetricsServiceRequest) (*collmetricpb.ExportMetricsServiceResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.metrics = append(m.metrics, r)
	return &collmetricpb.ExportMetricsServiceResponse{}, nil
}

func TestSetupExportsOverOTLP(t *testing.T) {
	col := &collector{}
	gs := grpc.NewServer()
	colltracepb.RegisterTraceServiceServer(gs, col)
	collmetricpb.RegisterMetricsServiceServer(gs, metricsService{col})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	defer gs.Stop()

	endpoint := "http://" + lis.Addr().String()
	p, shutdown, err := Setup(context.Background(), Config{
		ServiceName:     "councild-otlp",
		TracesEndpoint:  endpoint,
		MetricsEndpoint: endpoint,
		Logger:          slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Tracing {
		t.Fatal("tracing off with an endpoint")
	}
	base := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
		return &provider.Response{Content: "ok"}, nil
	})
	c := provider.Chain(base, GenAIInterceptor(WithTracerProvider(p.TracerProvider), WithMeterProvider(p.MeterProvider)))
	if _, err := c.Complete(context.Background(), chatRequest("m/otlp")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Shutdown flushes the batched span and the metrics.
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}

	col.mu.Lock()
	defer col.mu.Unlock()
	var spanNames, services, metricNames []string
	for _, r := range col.traces {
		for _, rs := range r.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				if a.Key == "service.name" {
					services = append(services, a.Value.GetStringValue())
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					spanNames = append(spanNames, s.Name)
				}
			}
		}
	}
	for _, r := range col.metrics {
		for _, rm := range r.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					metricNames = append(metricNames, m.Name)
				}
			}
		}
	}
	if strings.Join(spanNames, ",") != "chat m/otlp" || strings.Join(services, ",") != "councild-otlp" {
		t.Errorf("collector got spans %v from services %v", spanNames, services)
	}
	if !strings.Contains(strings.Join(metricNames, ","), MetricOperationDuration) {
		t.Errorf("collector got metrics %v, want %s", metricNames, MetricOperationDuration)
	}
}

func TestSetupFailsOnBadEndpoint(t *testing.T) {
	_, shutdown, err := Setup(context.Background(), Config{TracesEndpoint: "http://[::1", Logger: slog.New(slog.DiscardHandler)})
	if err == nil {
		t.Fatal("Setup accepted a malformed endpoint")
	}
	if shutdown == nil {
		t.Fatal("shutdown is nil")
	}
	if err := shutdown(context.Background()); err != nil {
		t.Errorf("shutdown after failure: %v", err)
	}
}
