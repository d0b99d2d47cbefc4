package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/internal/syncbuf"
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
// probability rate, else a healthy answer after ttft and latency. It books
// every draw in the ledger.
type script struct {
	mu      sync.Mutex
	rng     *rand.Rand
	rate    float64
	healthy openroutertest.Behavior
	// trickle is how long a trickle lasts: longer than a call may take.
	trickle time.Duration
	faults  []*injected
	total   atomic.Int64
	ledger  *ledger
}

func (s *script) behavior(req openroutertest.Request) openroutertest.Behavior {
	s.total.Add(1)
	s.mu.Lock()
	hit := s.rng.Float64() < s.rate
	i := s.rng.IntN(len(s.faults))
	s.mu.Unlock()
	s.ledger.record(req, hit)
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

// stack is the fake upstream in this process and councild in its own,
// with cfg.conns gRPC connections to it.
type stack struct {
	upstream *openroutertest.Server
	script   *script
	councild *bench.Process
	log      *syncbuf.Buffer
	metrics  *scraper
	conns    []*grpc.ClientConn
	clients  []councilv1.CouncilClient
}

// adminListening matches councild's log line announcing its admin address.
var adminListening = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

// serverEnv is councild's environment in a soak: the fake upstream, the
// soak's call timeouts, room for every consultation, and the metrics
// endpoint on a free port. Adaptive admission is off, so that the soak
// holds its concurrency; -server-env can turn it on.
func serverEnv(cfg config, upstreamURL string) []string {
	timeout := cfg.callTimeout.String()
	env := []string{
		"COUNCIL_PROVIDER=openrouter",
		"OPENROUTER_API_KEY=" + apiKey,
		"OPENROUTER_BASE_URL=" + upstreamURL,
		"COUNCIL_ADDR=127.0.0.1:0",
		"COUNCIL_ADMIN_ADDR=127.0.0.1:0",
		"COUNCIL_COLLECT_TIMEOUT=" + timeout,
		"COUNCIL_REVIEW_TIMEOUT=" + timeout,
		"COUNCIL_SYNTHESIZE_TIMEOUT=" + timeout,
		"COUNCIL_MAX_CONSULTATIONS=" + strconv.Itoa(max(2000, 2*cfg.concurrency)),
		"COUNCIL_ADAPTIVE_ADMISSION=false",
		"COUNCIL_DRAIN_TIMEOUT=5s",
	}
	return append(env, cfg.serverEnv...)
}

// startStack starts the fake upstream, councild pointed at it, and the
// connections to councild.
func startStack(cfg config, l *ledger) (*stack, error) {
	sc := &script{
		rng:     rand.New(rand.NewPCG(cfg.seed, cfg.seed^0x9e3779b97f4a7c15)),
		rate:    cfg.faultRate,
		healthy: openroutertest.Behavior{TTFT: cfg.ttft, Latency: cfg.latency},
		trickle: cfg.callTimeout + cfg.latency,
		faults:  newFaults(),
		ledger:  l,
	}
	up := openroutertest.NewServer(openroutertest.WithKey(apiKey), openroutertest.WithoutRecording(),
		openroutertest.WithRequestScript(sc.behavior))
	log := &syncbuf.Buffer{}
	proc, err := bench.StartProcess(cfg.councild, nil, serverEnv(cfg, up.URL()), log)
	if err != nil {
		up.Close()
		return nil, fmt.Errorf("starting %s: %w\n%s", cfg.councild, err, log.String())
	}
	s := &stack{upstream: up, script: sc, councild: proc, log: log}
	m := adminListening.FindStringSubmatch(log.String())
	if m == nil {
		return nil, errors.Join(errors.New("councild logged no admin address"), s.stop())
	}
	s.metrics = newScraper("http://" + m[1] + "/metrics")
	for range cfg.conns {
		conn, err := grpc.NewClient(proc.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return nil, errors.Join(fmt.Errorf("connecting: %w", err), s.stop())
		}
		s.conns = append(s.conns, conn)
		s.clients = append(s.clients, councilv1.NewCouncilClient(conn))
	}
	return s, nil
}

// disconnect closes the soak's connections to councild and councild's to
// the fake upstream, so that councild's goroutines can wind down.
func (s *stack) disconnect() error {
	var errs []error
	for _, c := range s.conns {
		errs = append(errs, c.Close())
	}
	s.conns = nil
	s.upstream.CloseClientConnections()
	return errors.Join(errs...)
}

// stop stops councild (SIGTERM, which it must survive with exit status 0)
// and the fake upstream.
func (s *stack) stop() error {
	errs := []error{s.disconnect()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.councild.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("councild: %w", err))
	}
	s.metrics.close()
	s.upstream.Close()
	return errors.Join(errs...)
}
