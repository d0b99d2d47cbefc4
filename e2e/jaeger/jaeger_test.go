//go:build jaeger

package jaeger

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
	"github.com/councilhq/council/server"
	"github.com/councilhq/council/telemetry"
)

// jaeger is a running Jaeger all-in-one.
type jaeger struct {
	otlpGRPC  int
	queryHTTP int
	http      *http.Client
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startJaeger runs $JAEGER_BIN with $JAEGER_CONFIG on free loopback ports
// and waits until it reports healthy. It is stopped when the test ends.
func startJaeger(t *testing.T) *jaeger {
	t.Helper()
	bin, cfg := os.Getenv("JAEGER_BIN"), os.Getenv("JAEGER_CONFIG")
	if bin == "" || cfg == "" {
		t.Fatal("JAEGER_BIN and JAEGER_CONFIG must be set; run scripts/jaeger-e2e.sh")
	}
	j := &jaeger{otlpGRPC: freePort(t), queryHTTP: freePort(t), http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}}
	health := freePort(t)
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Env = append(os.Environ(),
		"JAEGER_OTLP_GRPC_PORT="+strconv.Itoa(j.otlpGRPC),
		"JAEGER_OTLP_HTTP_PORT="+strconv.Itoa(freePort(t)),
		"JAEGER_QUERY_PORT="+strconv.Itoa(j.queryHTTP),
		"JAEGER_QUERY_GRPC_PORT="+strconv.Itoa(freePort(t)),
		"JAEGER_HEALTH_PORT="+strconv.Itoa(health),
	)
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start jaeger: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("jaeger output:\n%s", out.String())
		}
	})

	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := j.http.Get(fmt.Sprintf("http://127.0.0.1:%d/status", health))
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return j
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("jaeger exited: %v\n%s", err, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("jaeger not healthy after 2 minutes:\n%s", out.String())
		}
	}
}

// The subset of Jaeger's /api/traces answer the test reads.
type (
	apiTraces struct {
		Data []apiTrace `json:"data"`
	}
	apiTrace struct {
		TraceID string    `json:"traceID"`
		Spans   []apiSpan `json:"spans"`
	}
	apiSpan struct {
		SpanID        string   `json:"spanID"`
		OperationName string   `json:"operationName"`
		References    []apiRef `json:"references"`
		Tags          []apiTag `json:"tags"`
	}
	apiRef struct {
		RefType string `json:"refType"`
		SpanID  string `json:"spanID"`
	}
	apiTag struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	}
)

// traces asks Jaeger for the service's traces.
func (j *jaeger) traces(service string) (apiTraces, error) {
	u := fmt.Sprintf("http://127.0.0.1:%d/api/traces?service=%s&limit=20&lookback=1h", j.queryHTTP, url.QueryEscape(service))
	resp, err := j.http.Get(u)
	if err != nil {
		return apiTraces{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return apiTraces{}, err
	}
	if resp.StatusCode != http.StatusOK {
		// Jaeger answers 404 until it has seen the service.
		return apiTraces{}, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	var out apiTraces
	if err := json.Unmarshal(body, &out); err != nil {
		return apiTraces{}, fmt.Errorf("decode: %w", err)
	}
	return out, nil
}

// runConsultation serves the council with telemetry exported to j and runs
// one consultation through a gRPC client, then shuts everything down so
// that every span is flushed.
func runConsultation(t *testing.T, j *jaeger, service string) {
	t.Helper()
	ctx := context.Background()
	t.Setenv("OTEL_SERVICE_NAME", service)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", fmt.Sprintf("http://127.0.0.1:%d", j.otlpGRPC))
	// Jaeger takes traces only.
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	cfg := telemetry.Config{Getenv: os.Getenv}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Logger = logger
	p, shutdown, err := telemetry.Setup(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Tracing {
		t.Fatal("tracing is off with an endpoint set")
	}

	simCfg := sim.DefaultConfig()
	simCfg.Scale = 0.01
	chain := provider.Chain(sim.New(simCfg), telemetry.GenAIInterceptor(
		telemetry.WithTracerProvider(p.TracerProvider), telemetry.WithMeterProvider(p.MeterProvider)))
	council, err := orchestrator.New(chain, orchestrator.Config{},
		orchestrator.WithTracerProvider(p.TracerProvider),
		orchestrator.WithObserver(monitor.New(monitor.WithLogger(logger), monitor.WithMeterProvider(p.MeterProvider))),
		orchestrator.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(council, server.WithLogger(logger), server.WithStatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(p.TracerProvider), otelgrpc.WithMeterProvider(p.MeterProvider), otelgrpc.WithPropagators(p.Propagator))))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx, lis) }()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	stream, err := councilv1.NewCouncilClient(conn).Consult(cctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if err == nil {
		for err == nil {
			_, err = stream.Recv()
		}
		if errors.Is(err, io.EOF) {
			err = nil
		}
	}
	cancel()
	_ = conn.Close()
	stop()
	if serr := <-served; serr != nil {
		t.Errorf("Serve: %v", serr)
	}
	if err != nil {
		t.Fatalf("consult: %v", err)
	}
	sdctx, sdcancel := context.WithTimeout(ctx, 30*time.Second)
	defer sdcancel()
	if err := shutdown(sdctx); err != nil {
		t.Fatalf("telemetry shutdown: %v", err)
	}
}

func tags(s apiSpan) map[string]string {
	out := map[string]string{}
	for _, tg := range s.Tags {
		out[tg.Key] = fmt.Sprint(tg.Value)
	}
	return out
}

func parentOf(s apiSpan) string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	return ""
}

func TestConsultationTraceInJaeger(t *testing.T) {
	j := startJaeger(t)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	service := "councild-e2e-" + hex.EncodeToString(suffix[:])
	runConsultation(t, j, service)

	tier, _ := orchestrator.LookupTier(orchestrator.DefaultTierName)
	wantSpans := 1 + 3 + 2*len(tier.Council) + 1
	var got apiTraces
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		got, err = j.traces(service)
		if err == nil && len(got.Data) > 0 && len(got.Data[0].Spans) >= wantSpans {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger has no complete trace for %s after a minute: %v (%d traces)", service, err, len(got.Data))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(got.Data) != 1 {
		t.Fatalf("Jaeger holds %d traces for the service, want 1", len(got.Data))
	}
	tr := got.Data[0]
	t.Logf("trace %s: %d spans", tr.TraceID, len(tr.Spans))
	if len(tr.Spans) != wantSpans {
		t.Errorf("trace has %d spans, want %d", len(tr.Spans), wantSpans)
	}
	byID := map[string]apiSpan{}
	for _, s := range tr.Spans {
		byID[s.SpanID] = s
	}
	var root apiSpan
	roots := 0
	stages := map[string]string{} // stage span name → span id
	chats := map[string][]apiSpan{}
	for _, s := range tr.Spans {
		parent := parentOf(s)
		switch {
		case parent == "":
			root, roots = s, roots+1
		case byID[parent].OperationName == "" && parent != "":
			t.Errorf("span %q has a parent missing from the trace", s.OperationName)
		case len(s.OperationName) > 8 && s.OperationName[:8] == "council.":
			stages[s.OperationName] = s.SpanID
		case len(s.OperationName) > 5 && s.OperationName[:5] == "chat ":
			chats[byID[parent].OperationName] = append(chats[byID[parent].OperationName], s)
		}
	}
	if roots != 1 || root.OperationName != "council.v1.Council/Consult" || tags(root)["span.kind"] != "server" {
		t.Fatalf("trace has %d roots; root %q (%v), want the one gRPC server span", roots, root.OperationName, tags(root))
	}
	models := map[string]map[string]bool{
		"council.collect":    set(tier.Council),
		"council.review":     set(tier.Council),
		"council.synthesize": set([]string{tier.Chairman}),
	}
	for stage, want := range models {
		id, ok := stages[stage]
		if !ok {
			t.Errorf("no %s span", stage)
			continue
		}
		if parentOf(byID[id]) != root.SpanID {
			t.Errorf("%s is not a child of the server span", stage)
		}
		if len(chats[stage]) != len(want) {
			t.Errorf("%s has %d chat spans, want %d", stage, len(chats[stage]), len(want))
		}
		for _, c := range chats[stage] {
			tg := tags(c)
			if !want[tg["gen_ai.request.model"]] || c.OperationName != "chat "+tg["gen_ai.request.model"] ||
				tg["span.kind"] != "client" || tg["gen_ai.operation.name"] != "chat" ||
				tg["council.consultation_id"] == "" || tg["council.consultation_id"] != tags(byID[id])["council.consultation_id"] {
				t.Errorf("chat span %q under %s has tags %v", c.OperationName, stage, tg)
			}
		}
	}
}

// councilctl trace draws the same trace from this Jaeger, found by its
// trace id and by its consultation id.
func TestCouncilctlTraceAgainstJaeger(t *testing.T) {
	j := startJaeger(t)
	var suffix [4]byte
	_, _ = rand.Read(suffix[:])
	service := "councild-e2e-" + hex.EncodeToString(suffix[:])
	runConsultation(t, j, service)
	tier, _ := orchestrator.LookupTier(orchestrator.DefaultTierName)
	wantSpans := 1 + 3 + 2*len(tier.Council) + 1
	var got apiTraces
	deadline := time.Now().Add(time.Minute)
	for {
		var err error
		got, err = j.traces(service)
		if err == nil && len(got.Data) > 0 && len(got.Data[0].Spans) >= wantSpans {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Jaeger has no complete trace for %s after a minute: %v", service, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	tr := got.Data[0]
	var consultation string
	for _, s := range tr.Spans {
		if id := tags(s)["council.consultation_id"]; id != "" {
			consultation = id
		}
	}
	bin := filepath.Join(t.TempDir(), "councilctl")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/councilctl").CombinedOutput(); err != nil {
		t.Fatalf("go build councilctl: %v\n%s", err, out)
	}
	jaegerURL := fmt.Sprintf("http://127.0.0.1:%d", j.queryHTTP)
	for _, id := range []string{tr.TraceID, consultation} {
		out, err := exec.Command(bin, "trace", id, "--jaeger", jaegerURL, "--service", service, "--width", "140").CombinedOutput()
		if err != nil {
			t.Fatalf("councilctl trace %s: %v\n%s", id, err, out)
		}
		t.Logf("councilctl trace %s:\n%s", id, out)
		text := string(out)
		for _, want := range append([]string{"trace " + tr.TraceID, "consultation " + consultation, fmt.Sprintf("%d spans", len(tr.Spans)),
			"council.v1.Council/Consult", "  council.collect", "  council.review", "  council.synthesize", "    chat " + tier.Chairman}, tier.Council...) {
			if !strings.Contains(text, want) {
				t.Errorf("councilctl trace %s lacks %q", id, want)
			}
		}
	}
}

func set(xs []string) map[string]bool {
	out := map[string]bool{}
	for _, x := range xs {
		out[x] = true
	}
	return out
}
