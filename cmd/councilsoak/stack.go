package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/server"
)

// apiKey is the fake upstream's key. No client may ever see it.
const apiKey = "sk-or-v1-soak-UPSTREAM-KEY-c0ffee"

// injected is a fault the fake upstream injects, and how often it did.
type injected struct {
	name     string
	behavior openroutertest.Behavior
	count    atomic.Int64
}

// newFaults returns the faults drawn from, each with a zero count.
func newFaults() []*injected {
	return []*injected{
		// A provider's transient 429 with no rate-limit signal. Random 429s
		// that carried OpenRouter's X-RateLimit-* headers (the whole key
		// spent for a minute) or a Retry-After would be the provider asking
		// for every call to wait, and the limiter would rightly hold them.
		{name: "429", behavior: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 429,
			Headers: map[string]string{"X-RateLimit-Limit": "", "X-RateLimit-Remaining": "", "X-RateLimit-Reset": ""}}},
		{name: "500", behavior: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 500}},
		{name: "502", behavior: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 502}},
		{name: "hang", behavior: openroutertest.Behavior{Fault: openroutertest.FaultHang}},
		{name: "reset", behavior: openroutertest.Behavior{Fault: openroutertest.FaultReset}},
		{name: "malformed", behavior: openroutertest.Behavior{Fault: openroutertest.FaultMalformedJSON}},
		{name: "empty", behavior: openroutertest.Behavior{Fault: openroutertest.FaultEmptyContent}},
		{name: "mid-stream", behavior: openroutertest.Behavior{Fault: openroutertest.FaultMidStreamError}},
		{name: "trickle", behavior: openroutertest.Behavior{Fault: openroutertest.FaultTrickle}},
	}
}

// script decides every upstream request's behavior: a fault with
// probability rate, else a healthy answer after ttft and latency.
type script struct {
	mu      sync.Mutex
	rng     *rand.Rand
	rate    float64
	healthy openroutertest.Behavior
	// trickle is how long a trickle lasts: longer than a call may take.
	trickle time.Duration
	faults  []*injected
	total   atomic.Int64
}

func (s *script) behavior(string, int) openroutertest.Behavior {
	s.total.Add(1)
	s.mu.Lock()
	hit := s.rng.Float64() < s.rate
	i := s.rng.IntN(len(s.faults))
	s.mu.Unlock()
	if !hit {
		return s.healthy
	}
	f := s.faults[i]
	f.count.Add(1)
	b := f.behavior
	if b.Fault == openroutertest.FaultTrickle {
		b.TTFT, b.Latency = s.healthy.TTFT, s.trickle
	}
	return b
}

// stack is the service in-process on loopback.
type stack struct {
	upstream *openroutertest.Server
	script   *script
	conns    []*grpc.ClientConn
	clients  []councilv1.CouncilClient
	teardown func() error
}

// startStack starts the fake upstream, the client, the orchestrator and the
// server on 127.0.0.1, and cfg.conns connections to it.
func startStack(cfg config) (*stack, error) {
	sc := &script{
		rng:     rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		rate:    cfg.faultRate,
		healthy: openroutertest.Behavior{TTFT: cfg.ttft, Latency: cfg.latency},
		trickle: cfg.callTimeout + cfg.latency,
		faults:  newFaults(),
	}
	up := openroutertest.NewServer(openroutertest.WithKey(apiKey), openroutertest.WithoutRecording(),
		openroutertest.WithScript(sc.behavior))
	transport := openrouter.NewTransport()
	// Every call of every consultation may be in flight at once; keep
	// their connections for reuse rather than closing all but a few.
	transport.MaxIdleConns = 0
	transport.MaxIdleConnsPerHost = 16 * cfg.concurrency
	httpClient := &http.Client{Transport: transport}
	closeUpstream := func() {
		httpClient.CloseIdleConnections()
		up.Close()
	}
	client, err := openrouter.New(httpClient, openrouter.Config{BaseURL: up.URL(), APIKey: apiKey})
	if err != nil {
		closeUpstream()
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The production outbound chain: retries, rate limits and cooldowns
	// behind the call spans, with no practical cap on calls in flight.
	completer := outbound.New(client, outbound.Config{MaxInFlight: 16 * cfg.concurrency})
	council, err := orchestrator.New(completer, orchestrator.Config{
		CollectTimeout:    cfg.callTimeout,
		ReviewTimeout:     cfg.callTimeout,
		SynthesizeTimeout: cfg.callTimeout,
	}, orchestrator.WithLogger(quiet))
	if err != nil {
		closeUpstream()
		return nil, err
	}
	srv, err := server.New(council, server.WithLogger(quiet), server.WithDrainTimeout(time.Second))
	if err != nil {
		closeUpstream()
		return nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		closeUpstream()
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()

	s := &stack{upstream: up, script: sc}
	s.teardown = func() error {
		var errs []error
		for _, c := range s.conns {
			errs = append(errs, c.Close())
		}
		stop()
		errs = append(errs, <-served)
		closeUpstream()
		return errors.Join(errs...)
	}
	for range cfg.conns {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("connecting: %w", err), s.teardown())
		}
		s.conns = append(s.conns, conn)
		s.clients = append(s.clients, councilv1.NewCouncilClient(conn))
	}
	return s, nil
}
