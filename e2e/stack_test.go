package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/councilhq/council/cost"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/internal/streams"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/server"
)

// waitTimeout bounds every wait; it is generous so that a busy machine
// cannot make the tests flaky.
const waitTimeout = 60 * time.Second

// apiKey is the upstream key of every stack. It must never reach a client,
// a log line or a status.
const apiKey = "sk-or-v1-e2e-UPSTREAM-KEY-5f1d7c"

// The council and chairman of every consultation here, set on each stack
// (its consultations name no tier): the balanced tier's council and a
// chairman outside it, so that a fault can strike the chairman alone.
var (
	council  = []string{"openai/gpt-5-mini", "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash", "mistralai/mistral-medium-3.1"}
	chairman = "anthropic/claude-sonnet-4.5"
)

// stack is the whole service in-process: fake OpenRouter, OpenRouter
// client, orchestrator and gRPC server on a loopback port, with a client.
type stack struct {
	upstream *openroutertest.Server
	conn     *grpc.ClientConn
	client   councilv1.CouncilClient
	logs     *syncbuf.Buffer
}

// stackConfig tunes a stack; zero fields take short test defaults.
type stackConfig struct {
	council  orchestrator.Config
	server   []server.Option
	upstream []openroutertest.Option
	// outbound, when set, puts the production outbound chain (retries,
	// rate limits, cooldowns, the in-flight cap and, if configured,
	// hedging) between the orchestrator and the client.
	outbound *outbound.Config
	// prices, when set, has the council estimate calls at the prices the
	// fake upstream lists, as cost caps and budgets need.
	prices bool
}

// defaultCallTimeout bounds each model call unless a test says otherwise;
// the fake upstream answers healthy calls at once, so only faults reach it.
const defaultCallTimeout = 2 * time.Second

// newStack starts a stack that is torn down when the test ends.
func newStack(t testing.TB, cfg stackConfig) *stack {
	t.Helper()
	up := openroutertest.NewServer(append([]openroutertest.Option{openroutertest.WithKey(apiKey)}, cfg.upstream...)...)
	httpClient := &http.Client{Transport: openrouter.NewTransport()}
	client, err := openrouter.New(httpClient, openrouter.Config{BaseURL: up.URL(), APIKey: apiKey})
	if err != nil {
		up.Close()
		t.Fatalf("openrouter.New: %v", err)
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	known, err := client.ListModels(ctx)
	if err != nil {
		up.Close()
		t.Fatalf("ListModels: %v", err)
	}
	cc := cfg.council
	cc.KnownModels = provider.ModelIDs(known)
	if len(cc.Council) == 0 {
		cc.Council = council
	}
	if cc.Chairman == "" {
		cc.Chairman = chairman
	}
	for _, d := range []*time.Duration{&cc.CollectTimeout, &cc.ReviewTimeout, &cc.SynthesizeTimeout} {
		if *d == 0 {
			*d = defaultCallTimeout
		}
	}
	var completer provider.Completer = client
	if cfg.outbound != nil {
		completer = outbound.New(client, *cfg.outbound)
	}
	opts := []orchestrator.Option{orchestrator.WithLogger(log)}
	if cfg.prices {
		catalog := cost.NewCatalog(client)
		if _, err := catalog.ListModels(ctx); err != nil {
			up.Close()
			t.Fatalf("catalog: %v", err)
		}
		opts = append(opts, orchestrator.WithPrices(catalog))
	}
	c, err := orchestrator.New(completer, cc, opts...)
	if err != nil {
		up.Close()
		t.Fatalf("orchestrator.New: %v", err)
	}
	srv, err := server.New(c, append([]server.Option{server.WithLogger(log), server.WithDrainTimeout(waitTimeout)}, cfg.server...)...)
	if err != nil {
		up.Close()
		t.Fatalf("server.New: %v", err)
	}
	t.Cleanup(func() {
		httpClient.CloseIdleConnections()
		up.Close()
	})
	conn, err := grpc.NewClient(servertest.Serve(t, srv), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &stack{upstream: up, conn: conn, client: councilv1.NewCouncilClient(conn), logs: logs}
}

// consult runs one consultation to its end and returns its events and its
// final error (nil for status OK).
func (s *stack) consult(ctx context.Context, req *councilv1.ConsultRequest) ([]*councilv1.ConsultResponse, error) {
	stream, err := s.client.Consult(ctx, req)
	if err != nil {
		return nil, err
	}
	return streams.ReadAll(stream)
}

// waitUpstreamIdle waits until the fake upstream has no request in flight,
// which shows that every model call of finished consultations was
// cancelled rather than left running.
func (s *stack) waitUpstreamIdle(t testing.TB) {
	t.Helper()
	deadline := time.NewTimer(waitTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for s.upstream.InFlight() > 0 {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("%d upstream requests still in flight", s.upstream.InFlight())
		}
	}
}
