package telemetry_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
	"github.com/councilhq/council/server"
	"github.com/councilhq/council/telemetry"
)

// stack is the service as councild wires it, on a loopback port, with
// in-memory telemetry.
type stack struct {
	spans   *tracetest.SpanRecorder
	monitor *monitor.Monitor
	logs    *syncbuf.Buffer
	client  councilv1.CouncilClient
}

// startStack serves base behind the GenAI interceptor and inner
// interceptors, and stops everything when the test ends.
func startStack(t *testing.T, base provider.Completer, inner ...provider.Interceptor) *stack {
	t.Helper()
	st := &stack{spans: tracetest.NewSpanRecorder(), logs: &syncbuf.Buffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(st.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	logger := slog.New(slog.NewJSONHandler(st.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	st.monitor = monitor.New(monitor.WithLogger(logger), monitor.WithMeterProvider(mp))
	chain := provider.Chain(base, append([]provider.Interceptor{
		telemetry.GenAIInterceptor(telemetry.WithTracerProvider(tp), telemetry.WithMeterProvider(mp)),
	}, inner...)...)
	council, err := orchestrator.New(chain, orchestrator.Config{},
		orchestrator.WithTracerProvider(tp),
		orchestrator.WithObserver(st.monitor),
		orchestrator.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(council,
		server.WithLogger(logger),
		server.WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithMeterProvider(mp))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	conn, err := grpc.NewClient(servertest.Serve(t, srv), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	st.client = councilv1.NewCouncilClient(conn)
	return st
}

// consult runs one consultation and drains its stream, returning the
// stream's final error (nil for a complete answer).
func (st *stack) consult(t *testing.T, query string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stream, err := st.client.Consult(ctx, &councilv1.ConsultRequest{Query: query})
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// endedSpans waits for the server span, which ends just after the client
// sees the end of the stream, and returns every ended span.
func (st *stack) endedSpans(t *testing.T) []sdktrace.ReadOnlySpan {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		spans := st.spans.Ended()
		for _, s := range spans {
			if s.SpanKind() == trace.SpanKindServer {
				return spans
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server span never ended; have %d spans", len(spans))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConsultationIsOneTrace(t *testing.T) {
	t.Parallel()
	st := startStack(t, sim.New(sim.Config{}))
	if err := st.consult(t, "Why is the sky blue?"); err != nil {
		t.Fatalf("consult: %v", err)
	}
	spans := st.endedSpans(t)

	tier, _ := orchestrator.LookupTier(orchestrator.DefaultTierName)
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	traceID := spans[0].SpanContext().TraceID()
	for _, s := range spans {
		byID[s.SpanContext().SpanID()] = s
		if s.SpanContext().TraceID() != traceID {
			t.Fatalf("span %q is in another trace", s.Name())
		}
	}
	var roots []sdktrace.ReadOnlySpan
	stageOf := map[string]trace.SpanID{}
	chats := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		switch {
		case !s.Parent().IsValid():
			roots = append(roots, s)
		case strings.HasPrefix(s.Name(), "council."):
			stageOf[s.Name()] = s.SpanContext().SpanID()
		case strings.HasPrefix(s.Name(), "chat "):
			parent := byID[s.Parent().SpanID()]
			if parent == nil {
				t.Fatalf("%q has no recorded parent", s.Name())
			}
			chats[parent.Name()] = append(chats[parent.Name()], s)
		}
	}
	if len(roots) != 1 || roots[0].Name() != "council.v1.Council/Consult" || roots[0].SpanKind() != trace.SpanKindServer {
		t.Fatalf("roots = %v, want the one gRPC server span", names(roots))
	}
	for _, name := range []string{"council.collect", "council.review", "council.synthesize"} {
		id, ok := stageOf[name]
		if !ok {
			t.Fatalf("no %s span", name)
		}
		if byID[id].Parent().SpanID() != roots[0].SpanContext().SpanID() {
			t.Errorf("%s is not a child of the server span", name)
		}
	}
	want := map[string]int{"council.collect": len(tier.Council), "council.review": len(tier.Council), "council.synthesize": 1}
	for stage, n := range want {
		if len(chats[stage]) != n {
			t.Errorf("%s has %d chat spans (%v), want %d", stage, len(chats[stage]), names(chats[stage]), n)
		}
		stageAttrs := attrs(byID[stageOf[stage]])
		for _, c := range chats[stage] {
			a := attrs(c)
			if c.SpanKind() != trace.SpanKindClient || a["gen_ai.operation.name"] != "chat" ||
				c.Name() != "chat "+a["gen_ai.request.model"] ||
				a["council.consultation_id"] != stageAttrs["council.consultation_id"] || a["council.consultation_id"] == "" ||
				a["council.stage"] != strings.TrimPrefix(stage, "council.") || a["council.tier"] != tier.Name {
				t.Errorf("chat span %q under %s has attributes %v", c.Name(), stage, a)
			}
		}
	}
	if got := chats["council.synthesize"]; len(got) == 1 && attrs(got[0])["gen_ai.request.model"] != tier.Chairman {
		t.Errorf("synthesis by %s, want the chairman %s", attrs(got[0])["gen_ai.request.model"], tier.Chairman)
	}
	if n := st.monitor.Stats().Consultations; n != 1 {
		t.Errorf("monitor saw %d consultations, want 1", n)
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	out := map[string]string{}
	for _, kv := range s.Attributes() {
		out[string(kv.Key)] = kv.Value.Emit()
	}
	return out
}

// spanText is everything a span exports, as text.
func spanText(s sdktrace.ReadOnlySpan) string {
	var b strings.Builder
	fmt.Fprintln(&b, s.Name(), s.Status(), s.Attributes(), s.Links())
	for _, e := range s.Events() {
		fmt.Fprintln(&b, e.Name, e.Attributes)
	}
	return b.String()
}

func TestAPIKeyNeverInSpansOrLogs(t *testing.T) {
	t.Parallel()
	const key = "sk-or-v1-0123456789abcdef0123456789abcdef"
	leaky := map[string]error{
		// The upstream echoes the key in its error body.
		"auth": &provider.Error{Kind: provider.KindAuth, StatusCode: 401, Message: "authentication failed",
			Err: fmt.Errorf(`401: {"error":{"message":"invalid key %s"}}`, key)},
		// An unclassified error quoting the request.
		"raw": fmt.Errorf("POST /chat/completions Authorization: Bearer %s: connection reset", key),
	}
	for name, leak := range leaky {
		for _, everyModel := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/every model %v", name, everyModel), func(t *testing.T) {
				t.Parallel()
				tier, _ := orchestrator.LookupTier(orchestrator.DefaultTierName)
				answers := sim.New(sim.Config{})
				base := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
					if everyModel || req.Model == tier.Council[0] {
						return nil, leak
					}
					return answers.Complete(ctx, req)
				})
				// A retry layer that reports the failed attempt on the span.
				retry := func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
					resp, err := next.Complete(ctx, req)
					if err != nil {
						trace.SpanFromContext(ctx).AddEvent(telemetry.EventRetry,
							trace.WithAttributes(telemetry.AttrErrorType.String(provider.AsError(err).Kind.String())))
						resp, err = next.Complete(ctx, req)
					}
					return resp, err
				}
				st := startStack(t, base, retry)
				err := st.consult(t, "What is a key?")
				if everyModel == (err == nil) {
					t.Fatalf("consult error = %v, want failure only when every model fails", err)
				}
				if strings.Contains(fmt.Sprint(err), key) {
					t.Errorf("the client's error holds the key")
				}
				spans := st.endedSpans(t)
				sawError := false
				for _, s := range spans {
					text := spanText(s)
					if strings.Contains(text, key) || strings.Contains(text, "Bearer") {
						t.Errorf("span %q holds the key: %s", s.Name(), text)
					}
					sawError = sawError || attrs(s)["error.type"] != ""
				}
				if !sawError {
					t.Errorf("no span records the failure")
				}
				logs := st.logs.String()
				if !strings.Contains(logs, "consultation finished") {
					t.Fatalf("monitor did not log; logs:\n%s", logs)
				}
				if strings.Contains(logs, key) || strings.Contains(logs, "Bearer") {
					t.Errorf("logs hold the key:\n%s", logs)
				}
			})
		}
	}
}
