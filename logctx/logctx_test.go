package logctx

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func logged(t *testing.T, ctx context.Context, log func(*slog.Logger, context.Context)) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log(slog.New(Handler(slog.NewJSONHandler(&buf, nil))), ctx)
	var m map[string]any
	if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	return m
}

func TestFieldsAddedDeeperReachEveryLine(t *testing.T) {
	ctx := With(context.Background())
	child, cancel := context.WithCancel(ctx)
	defer cancel()
	Add(child, slog.String("request_id", "r-1"))
	Add(ctx, slog.String("consultation_id", "c-1"), slog.String("request_id", "r-2"))
	m := logged(t, ctx, func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "hello", "consultation_id", "own") })
	if m["request_id"] != "r-2" || m["consultation_id"] != "own" {
		t.Errorf("line = %v, want request_id r-2 and the record's own consultation_id", m)
	}
	if _, ok := m[TraceIDKey]; ok {
		t.Errorf("trace_id without a span: %v", m)
	}
}

func TestTraceAndSpanIDs(t *testing.T) {
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))
	m := logged(t, ctx, func(l *slog.Logger, ctx context.Context) { l.With("a", 1).InfoContext(ctx, "hello") })
	if m[TraceIDKey] != tid.String() || m[SpanIDKey] != sid.String() || m["a"] != float64(1) {
		t.Errorf("line = %v", m)
	}
}

func TestAddWithoutFieldsDoesNothing(t *testing.T) {
	ctx := context.Background()
	Add(ctx, slog.String("k", "v"))
	if got := Attrs(ctx); got != nil {
		t.Errorf("Attrs = %v", got)
	}
}
