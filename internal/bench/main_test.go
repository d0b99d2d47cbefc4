package bench_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait for something that should happen soon; it is
// generous so that a busy machine cannot make a test flaky.
const patience = 30 * time.Second

// serve runs the real service in this process: an OpenRouter client of
// the upstream at baseURL, the orchestrator configured by cfg and the gRPC
// server on a loopback port, whose address it returns. Everything stops
// when the test ends.
func serve(t *testing.T, baseURL, key string, cfg orchestrator.Config) string {
	t.Helper()
	transport := openrouter.NewTransport()
	client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: baseURL, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	council, err := orchestrator.New(client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(council, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(transport.CloseIdleConnections)
	return servertest.Serve(t, srv)
}
