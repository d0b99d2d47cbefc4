package main

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/consultcheck"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

// tailTimeout bounds how long consultations still running when the
// duration is over may take to finish before they are cancelled.
const tailTimeout = 2 * time.Minute

// settleTimeout bounds the wait for councild's goroutines to wind down
// after the soak's connections close.
const settleTimeout = 15 * time.Second

// shedPause is how long a worker whose consultation was refused at
// admission waits before the next, as the refusal's RetryInfo asks.
const shedPause = time.Second

// Statuses of a consultation refused at admission.
var (
	overloaded = consultcheck.Outcome(codes.ResourceExhausted, server.ReasonOverloaded)
	tooMany    = consultcheck.Outcome(codes.ResourceExhausted, server.ReasonTooManyConsultations)
)

// rules are what every stream is checked against. The only failures
// upstream faults may explain are too few answers and no synthesis;
// refusals at admission are counted apart.
var rules = consultcheck.Rules{
	Secrets:  []string{apiKey},
	Statuses: []string{quorumNotMet, noSynthesis, overloaded, tooMany},
}

// failureKey groups ModelFailed events.
type failureKey struct {
	stage  councilv1.Stage
	reason councilv1.ModelFailed_Reason
	model  string
}

// tally counts outcomes; it is safe for concurrent use.
type tally struct {
	mu            sync.Mutex
	started       int
	completed     int
	degraded      int
	cutOff        int
	shed          int
	failed        map[string]int
	expected      int
	unexplained   map[string]int
	modelFailures map[failureKey]int
	problems      int
	examples      []string
	latencies     []time.Duration
	peak          int
	running       int
}

// maxExamples bounds the problems the report quotes.
const maxExamples = 10

func (t *tally) begin() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.started++
	t.running++
	t.peak = max(t.peak, t.running)
}

// add records one finished consultation; cutOff means the soak cancelled
// it at the end of its tail. calls are the upstream draws of its model
// calls.
func (t *tally) add(v consultcheck.Verdict, calls map[call]draws, d time.Duration, cutOff bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	for _, f := range v.Failures {
		t.modelFailures[failureKey{f.Stage, f.Reason, f.Model}]++
	}
	switch {
	case cutOff:
		t.cutOff++
	case v.OK:
		t.completed++
		if v.Completed.GetDegraded() {
			t.degraded++
		}
		t.latencies = append(t.latencies, d)
	case v.Status == overloaded || v.Status == tooMany:
		t.shed++
	default:
		t.failed[v.Status]++
		if why, ok := expectedFailure(v, calls, orchestrator.DefaultConfig().MinAnswers); ok && why == v.Status {
			t.expected++
		} else {
			t.unexplained[v.Status]++
		}
	}
	t.problems += len(v.Problems)
	for _, p := range v.Problems {
		if len(t.examples) < maxExamples {
			t.examples = append(t.examples, p)
		}
	}
}

// consultOnce runs consultation n on client and checks its stream.
// Consultations run under tail, which outlives the soak's duration so that
// those in flight at its end may finish. It reports whether the
// consultation was refused at admission.
func consultOnce(tail context.Context, client councilv1.CouncilClient, t *tally, l *ledger, n int) (shed bool) {
	t.begin()
	began := time.Now()
	c := rules.Stream()
	err := func() error {
		stream, err := client.Consult(tail, &councilv1.ConsultRequest{Query: query(n)})
		if err != nil {
			return err
		}
		for {
			ev, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			c.Event(ev)
		}
	}()
	calls := l.take(n)
	if tail.Err() != nil && err != nil {
		t.add(consultcheck.Verdict{}, nil, 0, true)
		return false
	}
	t.add(c.End(err), calls, time.Since(began), false)
	return status.Code(err) == codes.ResourceExhausted
}

// soak runs the workers against a fresh stack and returns the report.
func soak(ctx context.Context, cfg config) (*report, error) {
	l := newLedger()
	s, err := startStack(cfg, l)
	if err != nil {
		return nil, err
	}
	rep := &report{cfg: cfg}
	rep.start = s.sample(ctx)
	t := &tally{failed: map[string]int{}, unexplained: map[string]int{}, modelFailures: map[failureKey]int{}}
	window, stopWindow := context.WithTimeout(ctx, cfg.duration)
	defer stopWindow()
	tail, stopTail := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTail()

	began := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for i := range cfg.concurrency {
		client := s.clients[i%len(s.clients)]
		wg.Go(func() {
			for window.Err() == nil {
				if consultOnce(tail, client, t, l, int(next.Add(1))) {
					select {
					case <-window.Done():
					case <-time.After(shedPause):
					}
				}
			}
		})
	}
	<-window.Done()
	rep.window = time.Since(began)
	rep.mid = s.sample(ctx)
	workersDone := make(chan struct{})
	go func() { wg.Wait(); close(workersDone) }()
	timer := time.NewTimer(tailTimeout)
	select {
	case <-workersDone:
	case <-timer.C:
		stopTail()
		<-workersDone
	case <-ctx.Done():
		stopTail()
		<-workersDone
	}
	timer.Stop()
	rep.elapsed = time.Since(began)

	rep.upstreamRequests = s.script.total.Load()
	for _, f := range s.script.faults {
		rep.injected = append(rep.injected, injectedCount{f.name, f.count.Load()})
	}
	rep.disconnectErr = s.disconnect()
	rep.end = s.settle(ctx, rep.start.goroutines)
	rep.outbound = s.outbound(ctx)
	rep.stopErr = s.stop()
	rep.logLeaks = rules.Leaks(s.log.String())

	t.mu.Lock()
	defer t.mu.Unlock()
	rep.started, rep.completed, rep.degraded, rep.cutOff, rep.shed = t.started, t.completed, t.degraded, t.cutOff, t.shed
	rep.failed, rep.expected, rep.unexplained = t.failed, t.expected, t.unexplained
	rep.modelFailures, rep.problems, rep.examples, rep.peak = t.modelFailures, t.problems, t.examples, t.peak
	slices.Sort(t.latencies)
	rep.latencies = t.latencies
	return rep, nil
}

// sample is councild's goroutines and memory at one moment.
type sample struct {
	goroutines int // -1 when the scrape failed
	rss, hwm   int64
}

// sample reads councild's goroutines (from its metrics) and memory.
func (s *stack) sample(ctx context.Context) sample {
	out := sample{goroutines: -1}
	if m, err := s.metrics.scrape(ctx); err == nil {
		out.goroutines = m.gauge("go_goroutines")
	}
	out.rss, _ = s.councild.Current()
	out.hwm, _ = s.councild.Peak()
	return out
}

// settle waits, up to settleTimeout, for councild's goroutines to fall
// back to want, and returns the sample it ended with.
func (s *stack) settle(ctx context.Context, want int) sample {
	deadline := time.Now().Add(settleTimeout)
	for {
		smp := s.sample(ctx)
		if (smp.goroutines >= 0 && smp.goroutines <= want) || time.Now().After(deadline) || ctx.Err() != nil {
			return smp
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// outboundCounts are councild's counts of what its outbound chain did.
type outboundCounts struct {
	cooldowns  map[string]int64 // by model
	retryStops map[string]int64 // by reason
	waits      map[string]int64 // by reason
	err        error
}

// outbound scrapes councild's outbound counters.
func (s *stack) outbound(ctx context.Context) outboundCounts {
	m, err := s.metrics.scrape(ctx)
	if err != nil {
		return outboundCounts{err: err}
	}
	return outboundCounts{
		cooldowns:  m.counters("council_model_cooldowns", "gen_ai_request_model"),
		retryStops: m.counters("council_model_retry_stops", "council_reason"),
		waits:      m.counters("council_model_waits", "council_reason"),
	}
}
