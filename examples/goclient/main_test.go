package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/sim"
	"github.com/councilhq/council/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs the council with simulated models on a loopback port until
// the test ends and returns its address.
func serve(t *testing.T) string {
	t.Helper()
	cfg := sim.DefaultConfig()
	cfg.Scale = 0.01
	council, err := orchestrator.New(sim.New(cfg), orchestrator.Config{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(council)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Serve(t, srv)
}

func TestConsult(t *testing.T) {
	addr := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var out strings.Builder
	if err := consult(ctx, addr, "Why is the sky blue?", &out); err != nil {
		t.Fatalf("consult: %v\n%s", err, out.String())
	}
	speed, _ := orchestrator.LookupTier("speed")
	for _, want := range []string{speed.Council[0] + " answered in", "(by " + speed.Chairman + ")", "completed in", "degraded: false"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	out.Reset()
	err := consult(ctx, addr, "  ", &out)
	if err == nil || !strings.Contains(err.Error(), "bad request (INVALID_REQUEST): [query: must not be blank]") {
		t.Errorf("blank question: %v", err)
	}
}
