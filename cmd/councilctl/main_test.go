package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/encoding/protojson"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeCouncil answers every consultation with a fixed script and records
// the requests.
type fakeCouncil struct {
	mu   sync.Mutex
	reqs []orchestrator.Request
}

func (f *fakeCouncil) Consult(_ context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	if req.Query == "fail" {
		return orchestrator.ErrQuorumNotMet
	}
	for i, p := range []any{
		&orchestrator.ConsultStarted{Tier: "cost", Council: []string{"a", "b"}, Chairman: "c", RequestID: req.RequestID},
		&orchestrator.SynthesisDelta{Model: "c", Text: "Rayleigh "},
		&orchestrator.SynthesisDelta{Model: "c", Text: "scattering."},
		&orchestrator.FinalAnswer{Model: "c", Content: "Rayleigh scattering.", Latency: time.Second},
		&orchestrator.ConsultCompleted{Duration: 2 * time.Second},
	} {
		if err := emit(orchestrator.Event{Sequence: uint64(i + 1), ConsultationID: "c-1", Payload: p}); err != nil {
			return err
		}
	}
	return nil
}

func (f *fakeCouncil) last() orchestrator.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

// serve starts a council server on loopback for the test and returns its
// address.
func serve(t *testing.T, c server.Consulter) string {
	t.Helper()
	srv, err := server.New(c, server.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return lis.Addr().String()
}

func ctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, func(string) string { return "" }, &out)
	return out.String(), err
}

func TestConsultText(t *testing.T) {
	fake := &fakeCouncil{}
	addr := serve(t, fake)
	out, err := ctl(t, "--addr", addr, "consult", "--tier", "Cost", "Why is the sky blue?", "--models", "a, b", "--chairman", "c", "--request-id", "r1")
	if err != nil {
		t.Fatalf("consult: %v\n%s", err, out)
	}
	for _, want := range []string{
		"consultation c-1: tier cost, council a, b, chairman c, request r1\n",
		"[synthesize] c is writing the final answer:\n\nRayleigh scattering.\n\n",
		"[synthesize] final answer by c in 1s",
		"completed in 2s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	req := fake.last()
	if req.Query != "Why is the sky blue?" || req.Tier != "cost" || strings.Join(req.Council, ",") != "a,b" || req.Chairman != "c" || req.RequestID != "r1" {
		t.Errorf("request = %+v", req)
	}
}

func TestConsultJSON(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	out, err := ctl(t, "--addr", addr, "consult", "q", "--json")
	if err != nil {
		t.Fatalf("consult: %v", err)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		n++
		var r councilv1.ConsultResponse
		if err := protojson.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d is not a ConsultResponse: %v\n%s", n, err, sc.Text())
		}
		if r.GetSequence() != uint64(n) {
			t.Errorf("line %d has sequence %d", n, r.GetSequence())
		}
	}
	if n != 5 {
		t.Errorf("got %d lines, want 5:\n%s", n, out)
	}
}

func TestConsultFailures(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"invalid argument", []string{"consult", "   "}, []string{"InvalidArgument", "INVALID_REQUEST", "query: must not be blank"}},
		{"unavailable", []string{"consult", "fail"}, []string{"Unavailable", "QUORUM_NOT_MET"}},
		{"unknown tier", []string{"consult", "q", "--tier", "turbo"}, []string{"unknown tier"}},
		{"no question", []string{"consult"}, []string{"one question"}},
		{"two questions", []string{"consult", "a", "b"}, []string{"one question"}},
		{"unknown command", []string{"ask", "q"}, []string{"unknown command"}},
		{"no command", nil, []string{"no command"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ctl(t, append([]string{"--addr", addr}, tc.args...)...)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestTiers(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	out, err := ctl(t, "--addr", addr, "tiers")
	if err != nil {
		t.Fatalf("tiers: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "TIER") || !strings.Contains(out, "balanced (default)") {
		t.Errorf("tiers output:\n%s", out)
	}
	out, err = ctl(t, "--addr", addr, "tiers", "--json")
	if err != nil {
		t.Fatalf("tiers --json: %v", err)
	}
	var resp councilv1.ListTiersResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil || len(resp.GetTiers()) != 3 {
		t.Errorf("tiers --json = %d tiers, %v:\n%s", len(resp.GetTiers()), err, out)
	}
}

func TestHealth(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	for _, args := range [][]string{{"health"}, {"health", "--wait", "30s"}} {
		out, err := ctl(t, append([]string{"--addr", addr}, args...)...)
		if err != nil || strings.TrimSpace(out) != "SERVING" {
			t.Errorf("%v = %q, %v", args, out, err)
		}
	}
}

func TestHealthWaitGivesUp(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	if _, err := ctl(t, "--addr", addr, "health", "--wait", "200ms"); err == nil {
		t.Error("health of a server that is down succeeded")
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asJSON := fs.Bool("json", false, "")
	tier := fs.String("tier", "", "")
	pos, err := parseInterleaved(fs, []string{"--json", "one", "--tier", "speed", "two"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, "|") != "one|two" || !*asJSON || *tier != "speed" {
		t.Errorf("positional %v, json %v, tier %q", pos, *asJSON, *tier)
	}
}

func TestVersion(t *testing.T) {
	out, err := ctl(t, "--version")
	if err != nil || !strings.HasPrefix(out, "councilctl ") || !strings.Contains(out, "go1.") {
		t.Errorf("--version = %q, %v", out, err)
	}
}
