package telemetry

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	collmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	colltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

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
	p, shutdown, err := Setup(context.Background(), Config{Prometheus: true, Logger: slog.New(slog.DiscardHandler)})
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

// collector keeps what an OTLP receiver was sent.
type collector struct {
	colltracepb.UnimplementedTraceServiceServer
	collmetricpb.UnimplementedMetricsServiceServer
	mu      sync.Mutex
	traces  []*colltracepb.ExportTraceServiceRequest
	metrics []*collmetricpb.ExportMetricsServiceRequest
	headers []string // x-tenant header of each export
}

func (c *collector) Export(ctx context.Context, r *colltracepb.ExportTraceServiceRequest) (*colltracepb.ExportTraceServiceResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.traces = append(c.traces, r)
	c.headers = append(c.headers, strings.Join(md.Get("x-tenant"), ","))
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

// startGRPCCollector serves OTLP over gRPC on loopback and returns its
// endpoint URL.
func startGRPCCollector(t *testing.T, col *collector) string {
	t.Helper()
	gs := grpc.NewServer()
	colltracepb.RegisterTraceServiceServer(gs, col)
	collmetricpb.RegisterMetricsServiceServer(gs, metricsService{col})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return "http://" + lis.Addr().String()
}

// startHTTPCollector serves OTLP over HTTP with protobuf bodies
// (/v1/traces and /v1/metrics) and returns its endpoint URL.
func startHTTPCollector(t *testing.T, col *collector) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/traces", func(w http.ResponseWriter, r *http.Request) {
		var req colltracepb.ExportTraceServiceRequest
		if !readProto(w, r, &req) {
			return
		}
		col.mu.Lock()
		col.traces = append(col.traces, &req)
		col.headers = append(col.headers, r.Header.Get("X-Tenant"))
		col.mu.Unlock()
		writeProto(w, &colltracepb.ExportTraceServiceResponse{})
	})
	mux.HandleFunc("POST /v1/metrics", func(w http.ResponseWriter, r *http.Request) {
		var req collmetricpb.ExportMetricsServiceRequest
		if !readProto(w, r, &req) {
			return
		}
		col.mu.Lock()
		col.metrics = append(col.metrics, &req)
		col.mu.Unlock()
		writeProto(w, &collmetricpb.ExportMetricsServiceResponse{})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// readProto decodes a protobuf request body, answering 400 or 415 when it
// cannot.
func readProto(w http.ResponseWriter, r *http.Request, m proto.Message) bool {
	if ct := r.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "content type "+ct, http.StatusUnsupportedMediaType)
		return false
	}
	body, err := io.ReadAll(r.Body)
	if err == nil {
		err = proto.Unmarshal(body, m)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func writeProto(w http.ResponseWriter, m proto.Message) {
	b, _ := proto.Marshal(m)
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(b)
}

// exportOneCall sets env, sets up telemetry from it, makes one model call
// through the GenAI interceptor and shuts down, which flushes the span and
// the metrics.
func exportOneCall(t *testing.T, env map[string]string) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	p, shutdown, err := Setup(context.Background(), Config{Getenv: os.Getenv, ServiceVersion: "1.2.3", Logger: slog.New(slog.DiscardHandler)})
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
	if err := shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if err := shutdown(ctx); err != nil {
		t.Errorf("second shutdown: %v", err)
	}
}

// checkExported checks that col got the call's span, with the resource the
// environment describes and the export headers, and the call's metrics.
func checkExported(t *testing.T, col *collector) {
	t.Helper()
	col.mu.Lock()
	defer col.mu.Unlock()
	var spanNames, metricNames []string
	resource := map[string]string{}
	for _, r := range col.traces {
		for _, rs := range r.ResourceSpans {
			for _, a := range rs.Resource.Attributes {
				resource[a.Key] = a.Value.GetStringValue()
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
	if strings.Join(spanNames, ",") != "chat m/otlp" {
		t.Errorf("collector got spans %v, want one chat m/otlp", spanNames)
	}
	for k, want := range map[string]string{"service.name": "councild-otlp", "service.version": "1.2.3", "deployment.environment": "test"} {
		if resource[k] != want {
			t.Errorf("resource %s = %q, want %q (resource %v)", k, resource[k], want, resource)
		}
	}
	if strings.Join(col.headers, ",") != "a" {
		t.Errorf("x-tenant headers %q, want one a", col.headers)
	}
	if !strings.Contains(strings.Join(metricNames, ","), MetricOperationDuration) {
		t.Errorf("collector got metrics %v, want %s", metricNames, MetricOperationDuration)
	}
}

// otlpEnv is the environment of the export tests: one endpoint for both
// signals, and the variables that describe the resource and the headers.
func otlpEnv(endpoint string) map[string]string {
	return map[string]string{
		EnvEndpoint:                  endpoint,
		"OTEL_SERVICE_NAME":          "councild-otlp",
		"OTEL_RESOURCE_ATTRIBUTES":   "deployment.environment=test",
		"OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=a",
	}
}

func TestSetupExportsOverOTLPGRPCByDefault(t *testing.T) {
	col := &collector{}
	exportOneCall(t, otlpEnv(startGRPCCollector(t, col)))
	checkExported(t, col)
}

func TestSetupExportsOverOTLPHTTP(t *testing.T) {
	col := &collector{}
	env := otlpEnv(startHTTPCollector(t, col))
	env[EnvProtocol] = "http/protobuf"
	exportOneCall(t, env)
	checkExported(t, col)
}

func TestSetupHonoursTheSampler(t *testing.T) {
	col := &collector{}
	env := otlpEnv(startGRPCCollector(t, col))
	env["OTEL_TRACES_SAMPLER"] = "always_off"
	env[EnvMetricsExporter] = "none"
	exportOneCall(t, env)
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.traces) != 0 || len(col.metrics) != 0 {
		t.Errorf("collector got %d trace and %d metric exports, want none", len(col.traces), len(col.metrics))
	}
}

func TestSetupFailsOnAnUnknownExporterOrProtocol(t *testing.T) {
	for _, env := range []map[string]string{
		{EnvTracesExporter: "zipkin-over-carrier-pigeon"},
		{EnvEndpoint: "http://127.0.0.1:4317", EnvProtocol: "http/json"},
	} {
		t.Run(fmt.Sprint(env), func(t *testing.T) {
			for k, v := range env {
				t.Setenv(k, v)
			}
			_, shutdown, err := Setup(context.Background(), Config{Getenv: os.Getenv, Logger: slog.New(slog.DiscardHandler)})
			if err == nil {
				t.Errorf("Setup accepted %v", env)
			}
			if shutdown == nil {
				t.Fatal("shutdown is nil")
			}
			if err := shutdown(context.Background()); err != nil {
				t.Errorf("shutdown after failure: %v", err)
			}
		})
	}
}
