package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/logctx"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/sim"
)

// Every log line of a consultation, from the gRPC call's first to the
// summary, names the consultation, the request and the trace, and the trace
// id goes back to the client in the response header.
func TestConsultationLogLinesAreCorrelated(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer func() { _ = tp.Shutdown(context.Background()) }()
	logs := &syncbuf.Buffer{}
	logger := slog.New(logctx.Handler(slog.NewJSONHandler(logs, nil)))
	cfg := sim.DefaultConfig()
	cfg.Scale = 0.001
	council, err := orchestrator.New(sim.New(cfg), orchestrator.Config{},
		orchestrator.WithLogger(logger),
		orchestrator.WithTracerProvider(tp),
		orchestrator.WithObserver(monitor.New(monitor.WithLogger(logger))))
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, council, WithLogger(logger), WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))))

	var header metadata.MD
	stream, err := h.client.Consult(context.Background(), &councilv1.ConsultRequest{Query: "Why is the sky blue?", RequestId: "r-7"}, grpc.Header(&header))
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = stream.Recv()
	}
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	traceID := header.Get(TraceIDHeader)
	if len(traceID) != 1 || len(traceID[0]) != 32 {
		t.Fatalf("response header %v, want one %s", header, TraceIDHeader)
	}

	want := map[string]bool{"started call": false, "finished call": false, "consultation finished": false}
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		msg, _ := m["msg"].(string)
		if _, ok := want[msg]; !ok {
			continue
		}
		want[msg] = true
		if m["consultation_id"] != first.GetConsultationId() || m["request_id"] != "r-7" || m["trace_id"] != traceID[0] || m["span_id"] == nil {
			t.Errorf("line lacks consultation_id %s, request_id r-7, trace_id %s or a span_id: %s", first.GetConsultationId(), traceID[0], line)
		}
	}
	for msg, seen := range want {
		if !seen {
			t.Errorf("no %q line in:\n%s", msg, logs)
		}
	}
}
