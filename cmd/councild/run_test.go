package main

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/internal/streams"
)

const waitTimeout = 30 * time.Second

// logSink collects councild's log and reports the address it listens on.
type logSink struct {
	mu        sync.Mutex
	text      strings.Builder
	listening chan string
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

func newLogSink() *logSink { return &logSink{listening: make(chan string, 1)} }

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.text.Write(p)
	if m := listeningLine.FindSubmatch(p); m != nil {
		s.listening <- string(m[1])
	}
	return len(p), nil
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.text.String()
}

// startRun runs councild with env until the test ends and returns a
// connection to it and its log.
func startRun(t *testing.T, env map[string]string) (*grpc.ClientConn, *logSink) {
	t.Helper()
	sink := newLogSink()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, envOf(env), sink) }()
	var addr string
	select {
	case addr = <-sink.listening:
	case err := <-done:
		stop()
		t.Fatalf("run returned before listening: %v\n%s", err, sink)
	case <-time.After(waitTimeout):
		stop()
		t.Fatalf("councild did not start:\n%s", sink)
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Error("run did not return after cancel")
		}
	})
	return conn, sink
}

// consultAll runs one consultation and returns its events.
func consultAll(t *testing.T, conn *grpc.ClientConn, req *councilv1.ConsultRequest) []*councilv1.ConsultResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	out, err := streams.ReadAll(stream)
	if err != nil {
		t.Fatalf("Consult: %v", err)
	}
	return out
}

func TestRunServesWithSimulatedModels(t *testing.T) {
	conn, logs := startRun(t, map[string]string{envTier: "cost", envSimScale: "0.01"})

	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(),
		&healthpb.HealthCheckRequest{Service: councilv1.Council_ServiceDesc.ServiceName})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp.GetStatus(), err)
	}
	tiers, err := councilv1.NewCouncilClient(conn).ListTiers(context.Background(), &councilv1.ListTiersRequest{})
	if err != nil {
		t.Fatalf("ListTiers: %v", err)
	}
	for _, tier := range tiers.GetTiers() {
		if tier.GetServerDefault() != (tier.GetTier() == councilv1.Tier_TIER_COST) {
			t.Errorf("tier %v server_default = %v", tier.GetTier(), tier.GetServerDefault())
		}
	}

	evs := consultAll(t, conn, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if len(evs) < 2 || evs[0].GetConsultStarted().GetTier() != councilv1.Tier_TIER_COST || evs[len(evs)-1].GetConsultCompleted() == nil {
		t.Fatalf("events: first %v, last %v", evs[0], evs[len(evs)-1])
	}
	if !strings.Contains(logs.String(), "provider=sim") {
		t.Errorf("startup line lacks the provider:\n%s", logs)
	}
}

func TestRunWithOpenRouter(t *testing.T) {
	or := openroutertest.NewServer()
	defer or.Close()
	conn, logs := startRun(t, map[string]string{
		envAPIKey:   or.Key(),
		envBaseURL:  or.URL(),
		envModels:   "openai/gpt-5-mini,anthropic/claude-haiku-4.5",
		envChairman: "google/gemini-2.5-flash",
	})
	tiers, err := councilv1.NewCouncilClient(conn).ListTiers(context.Background(), &councilv1.ListTiersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tier := range tiers.GetTiers() {
		if tier.GetServerDefault() && (strings.Join(tier.GetCouncilModels(), ",") != "openai/gpt-5-mini,anthropic/claude-haiku-4.5" ||
			tier.GetChairmanModel() != "google/gemini-2.5-flash") {
			t.Errorf("ListTiers shows the default tier as %v, want the configured council and chairman", tier)
		}
	}
	evs := consultAll(t, conn, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	started := evs[0].GetConsultStarted()
	if got := strings.Join(started.GetCouncilModels(), ","); got != "openai/gpt-5-mini,anthropic/claude-haiku-4.5" {
		t.Errorf("council = %s", got)
	}
	if started.GetChairmanModel() != "google/gemini-2.5-flash" {
		t.Errorf("chairman = %s", started.GetChairmanModel())
	}
	if evs[len(evs)-1].GetConsultCompleted() == nil {
		t.Errorf("last event = %v", evs[len(evs)-1])
	}
	if strings.Contains(logs.String(), or.Key()) {
		t.Errorf("the API key appears in the log")
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	_ = lis.Close()
	return addr
}

func TestRunFailsFast(t *testing.T) {
	or := openroutertest.NewServer()
	defer or.Close()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"openrouter without key", map[string]string{envProvider: "openrouter"}, envAPIKey},
		{"configured models not served", map[string]string{
			envAPIKey: or.Key(), envBaseURL: or.URL(), envModels: "vendor/a,openai/gpt-5-mini,vendor/b",
		}, envModels + ": the provider does not serve vendor/a, vendor/b"},
		{"configured chairman not served", map[string]string{
			envAPIKey: or.Key(), envBaseURL: or.URL(), envChairman: "vendor/c",
		}, envChairman + ": the provider does not serve vendor/c"},
		{"bad tier", map[string]string{envTier: "fastest"}, envTier + `="fastest"`},
		{"council of one", map[string]string{envModels: "a,,"}, envModels + `="a,,"`},
		{"provider unreachable", map[string]string{
			envAPIKey: "sk-wrong", envBaseURL: "http://" + closedAddr(t) + "/api/v1", envStartupTimeout: "1s",
		}, "could not be reached within 1s (" + envStartupTimeout + ")"},
		{"key rejected", map[string]string{envAPIKey: "sk-wrong", envBaseURL: or.URL()}, "listing"},
		{"bad listen address", map[string]string{envAddr: "256.0.0.1:1"}, "256.0.0.1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := newLogSink()
			ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
			defer cancel()
			err := run(ctx, nil, envOf(tc.env), sink)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run error = %v, want one mentioning %q", err, tc.want)
			}
			if strings.Contains(sink.String()+err.Error(), "sk-wrong") {
				t.Errorf("the API key leaks: %v\n%s", err, sink)
			}
		})
	}
}
