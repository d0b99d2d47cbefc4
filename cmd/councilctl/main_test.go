package main

import (
	"bufio"
	"context"
	"flag"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/councilhq/council/cost"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/sim"
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
func serve(t *testing.T, c server.Consulter, opts ...server.Option) string {
	t.Helper()
	srv, err := server.New(c, append(opts, server.WithLogger(slog.New(slog.DiscardHandler)))...)
	if err != nil {
		t.Fatal(err)
	}
	return servertest.Serve(t, srv)
}

func ctl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := ctlWith(t, stdio{in: strings.NewReader("")}, nil, args...)
	return out, err
}

// ctlWith runs councilctl with std's stdin and terminal flags and the
// environment env, and returns what it wrote to stdout and stderr.
func ctlWith(t *testing.T, std stdio, env map[string]string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut strings.Builder
	std.out, std.errOut = &out, &errOut
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = run(ctx, args, func(k string) string { return env[k] }, std)
	return out.String(), errOut.String(), err
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

func TestModels(t *testing.T) {
	catalog := cost.NewCatalog(sim.New(sim.DefaultConfig()))
	if _, err := catalog.ListModels(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &fakeCouncil{}, server.WithModelCatalog(catalog))
	out, err := ctl(t, "--addr", addr, "models")
	if err != nil {
		t.Fatalf("models: %v", err)
	}
	// gpt-5-mini lists at $0.25 and $2.00 per million tokens.
	if !strings.Contains(out, "MODEL") || !regexp.MustCompile(`openai/gpt-5-mini\s+128000\s+0\.250\s+2\.000`).MatchString(out) ||
		!strings.Contains(out, "prices as of") {
		t.Errorf("models output:\n%s", out)
	}
	out, err = ctl(t, "--addr", addr, "models", "--json")
	if err != nil {
		t.Fatalf("models --json: %v", err)
	}
	var resp councilv1.ListModelsResponse
	if err := protojson.Unmarshal([]byte(out), &resp); err != nil || len(resp.GetModels()) != len(sim.Models()) {
		t.Errorf("models --json = %d models, %v:\n%s", len(resp.GetModels()), err, out)
	}
	// A server without a catalog says so.
	if _, err := ctl(t, "--addr", serve(t, &fakeCouncil{}), "models"); err == nil || !strings.Contains(err.Error(), "Unimplemented") {
		t.Errorf("models without a catalog: %v", err)
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

func TestExitCodes(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	_ = lis.Close()
	tests := []struct {
		name string
		args []string
		want int
	}{
		{"success", []string{"--addr", addr, "consult", "q"}, exitOK},
		{"help", []string{"-h"}, exitOK},
		{"unknown global flag", []string{"--port", "1", "tiers"}, exitUsage},
		{"unknown command flag", []string{"--addr", addr, "consult", "q", "--colour"}, exitUsage},
		{"no command", []string{"--addr", addr}, exitUsage},
		{"unknown command", []string{"--addr", addr, "ask"}, exitUsage},
		{"two questions", []string{"--addr", addr, "consult", "a", "b"}, exitUsage},
		{"unknown tier", []string{"--addr", addr, "consult", "q", "--tier", "turbo"}, exitUsage},
		{"stray argument", []string{"--addr", addr, "tiers", "x"}, exitUsage},
		{"invalid argument", []string{"--addr", addr, "consult", " "}, exitInvalidArgument},
		{"quorum not met", []string{"--addr", addr, "consult", "fail"}, exitUnavailable},
		{"server down", []string{"--addr", down, "tiers"}, exitUnavailable},
		{"server down, waiting", []string{"--addr", down, "health", "--wait", "200ms"}, exitUnavailable},
		{"deadline", []string{"--addr", down, "consult", "q", "--timeout", "1ns"}, exitDeadlineExceeded},
		{"missing history", []string{"--addr", addr, "consult", "q", "--history", "/nonexistent/history.json"}, exitFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ctl(t, tc.args...)
			if got := exitCode(err); got != tc.want {
				t.Errorf("exit code %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}

func TestStatusExitCodes(t *testing.T) {
	for code, want := range map[codes.Code]int{
		codes.ResourceExhausted: exitResourceExhausted,
		codes.Unauthenticated:   exitUnauthenticated,
		codes.PermissionDenied:  exitUnauthenticated,
		codes.Canceled:          exitCanceled,
		codes.Internal:          exitInternal,
		codes.Unknown:           exitInternal,
	} {
		if got := exitCode(callError(status.Error(code, "x"))); got != want {
			t.Errorf("%v: exit code %d, want %d", code, got, want)
		}
	}
}

func TestConsultAnswerOnly(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	out, progress, err := ctlWith(t, stdio{}, nil, "--addr", addr, "consult", "q", "--answer-only")
	if err != nil {
		t.Fatal(err)
	}
	if out != "Rayleigh scattering.\n" {
		t.Errorf("stdout = %q, want the answer alone", out)
	}
	if !strings.Contains(progress, "final answer by c") || !strings.Contains(progress, "completed in 2s") || strings.Contains(progress, "Rayleigh") {
		t.Errorf("stderr = %q, want the progress without the answer's text", progress)
	}
	out, _, err = ctlWith(t, stdio{}, nil, "--addr", addr, "consult", "fail", "--answer-only")
	if err == nil || out != "" {
		t.Errorf("failed consultation: stdout %q, error %v; want nothing on stdout and an error", out, err)
	}
}

func TestConsultQuestionFromStdinAndHistory(t *testing.T) {
	fake := &fakeCouncil{}
	addr := serve(t, fake)
	history := filepath.Join(t.TempDir(), "history.json")
	if err := os.WriteFile(history, []byte(`[{"role":"user","content":"Why is the sky blue?"},{"role":"ROLE_ASSISTANT","content":"Rayleigh scattering."}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := ctlWith(t, stdio{in: strings.NewReader("And at sunset?\n")}, nil, "--addr", addr, "consult", "-", "--history", history)
	if err != nil {
		t.Fatal(err)
	}
	req := fake.last()
	if req.Query != "And at sunset?" || len(req.History) != 2 || req.History[0].Role != "user" || req.History[1].Content != "Rayleigh scattering." {
		t.Errorf("request = %+v", req)
	}
	if err := os.WriteFile(history, []byte(`[{"role":"system","content":"x"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ctl(t, "--addr", addr, "consult", "q", "--history", history)
	if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "turn 0") {
		t.Errorf("bad role: %v", err)
	}
}

func TestColourOnlyOnATerminalWithoutNoColor(t *testing.T) {
	addr := serve(t, &fakeCouncil{})
	for _, tc := range []struct {
		tty   bool
		env   map[string]string
		color bool
	}{
		{false, nil, false},
		{true, nil, true},
		{true, map[string]string{"NO_COLOR": "1"}, false},
	} {
		out, _, err := ctlWith(t, stdio{outTTY: tc.tty}, tc.env, "--addr", addr, "consult", "q")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(out, "\x1b["); got != tc.color {
			t.Errorf("tty %v, env %v: colour %v, want %v:\n%q", tc.tty, tc.env, got, tc.color, out)
		}
	}
}
