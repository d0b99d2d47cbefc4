package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// Tokens of the authentication tests; they must never show up in a log
// line or a status.
const (
	tokenA = "tok-A-7f3c9e1d-SECRET"
	tokenB = "tok-B-0a4b8c2e-SECRET"
)

// withAuth returns ctx carrying the given authorization metadata value.
func withAuth(ctx context.Context, value string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", value)
}

// callerRecorder is a Consulter that emits one event and records the caller
// identity the server attached to each call.
type callerRecorder struct {
	callers chan string
}

func (c *callerRecorder) Consult(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
	c.callers <- callerOf(ctx)
	return emit(started(1))
}

func TestBearerAuthentication(t *testing.T) {
	rec := &callerRecorder{callers: make(chan string, 10)}
	h := start(t, rec, WithBearerTokens(tokenA, tokenB))

	tests := []struct {
		name   string
		auth   string // "" sends no authorization metadata
		ok     bool
		caller string
	}{
		{"no token", "", false, ""},
		{"wrong token", "Bearer tok-A-7f3c9e1d-SECRE", false, ""},
		{"token with a suffix", "Bearer " + tokenA + "x", false, ""},
		{"wrong scheme", "Basic " + tokenA, false, ""},
		{"scheme only", "Bearer", false, ""},
		{"empty token", "Bearer ", false, ""},
		{"first token", "Bearer " + tokenA, true, "token-1"},
		{"second token, scheme in lower case", "bearer " + tokenB, true, "token-2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.auth != "" {
				ctx = withAuth(ctx, tc.auth)
			}
			_, consultErr := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"})
			_, tiersErr := h.client.ListTiers(ctx, &councilv1.ListTiersRequest{})
			for name, err := range map[string]error{"Consult": consultErr, "ListTiers": tiersErr} {
				if tc.ok {
					if err != nil {
						t.Errorf("%s: %v", name, err)
					}
					continue
				}
				if status.Code(err) != codes.Unauthenticated {
					t.Fatalf("%s: code = %v (%v), want Unauthenticated", name, status.Code(err), err)
				}
				if info, _ := errorInfo(t, err); info.GetReason() != ReasonUnauthenticated {
					t.Errorf("%s: reason = %q", name, info.GetReason())
				}
				if s := fmt.Sprint(status.Convert(err).Proto()); strings.Contains(s, "SECRET") {
					t.Errorf("%s: status carries the token: %s", name, s)
				}
			}
			if tc.ok {
				if got := recv(t, rec.callers); got != tc.caller {
					t.Errorf("caller = %q, want %q", got, tc.caller)
				}
			}
		})
	}
	if n := len(rec.callers); n != 0 {
		t.Errorf("%d unauthenticated consultations reached the Consulter", n)
	}
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if logs := h.logs.String(); strings.Contains(logs, "SECRET") {
		t.Errorf("logs carry a token:\n%s", logs)
	}
	if logs := h.logs.String(); !strings.Contains(logs, "Unauthenticated") {
		t.Errorf("logs do not record the refused calls:\n%s", logs)
	}
}

func TestHealthStaysOpenUnderAuthentication(t *testing.T) {
	h := start(t, &script{}, WithBearerTokens(tokenA))
	hc := healthpb.NewHealthClient(h.conn)
	resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: councilService})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check without a token = %v, %v; want SERVING", resp.GetStatus(), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: councilService})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch without a token = %v, %v; want SERVING", resp.GetStatus(), err)
	}
}

// listServices asks server reflection for the service names.
func listServices(ctx context.Context, h *harness) ([]string, error) {
	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil && !errors.Is(err, io.EOF) {
		// io.EOF means the server ended the stream; Recv tells why.
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func TestReflection(t *testing.T) {
	t.Run("off", func(t *testing.T) {
		h := start(t, &script{}, WithReflection(false))
		if _, err := listServices(context.Background(), h); status.Code(err) != codes.Unimplemented {
			t.Errorf("reflection switched off answered %v, want Unimplemented", err)
		}
	})
	t.Run("behind authentication", func(t *testing.T) {
		h := start(t, &script{}, WithBearerTokens(tokenA))
		if _, err := listServices(context.Background(), h); status.Code(err) != codes.Unauthenticated {
			t.Errorf("reflection without a token answered %v, want Unauthenticated", err)
		}
		names, err := listServices(withAuth(context.Background(), "Bearer "+tokenA), h)
		if err != nil || !strings.Contains(strings.Join(names, " "), councilService) {
			t.Errorf("reflection with a token = %v, %v", names, err)
		}
	})
}

func TestNewRejectsUnusableTokens(t *testing.T) {
	for name, tokens := range map[string][]string{
		"none":          nil,
		"empty":         {tokenA, ""},
		"inner space":   {"tok SECRET"},
		"newline":       {"tokSECRET\n"},
		"control bytes": {"tok\x00SECRET"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(&script{}, WithBearerTokens(tokens...))
			if err == nil {
				t.Fatal("New accepted the tokens")
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error carries the token: %v", err)
			}
		})
	}
}

func TestTokenNeverInTraces(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	h := start(t, &script{events: []orchestrator.Event{started(1)}},
		WithBearerTokens(tokenA),
		WithStatsHandler(otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp))))
	for _, auth := range []string{"Bearer " + tokenA, "Bearer " + tokenB} {
		_, _ = h.consult(withAuth(context.Background(), auth), &councilv1.ConsultRequest{Query: "q"})
	}
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	ended := spans.Ended()
	if len(ended) < 2 {
		t.Fatalf("%d spans recorded, want one per call", len(ended))
	}
	for _, s := range ended {
		text := fmt.Sprint(s.Name(), s.Attributes(), s.Events(), s.Status())
		if strings.Contains(text, "SECRET") {
			t.Errorf("span %s carries a token: %s", s.Name(), text)
		}
	}
}
