package main

import (
	"context"
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/consultcheck"
	"github.com/councilhq/council/server"
)

// tailTimeout bounds how long consultations still running when the
// duration is over may take to finish before they are cancelled.
const tailTimeout = 2 * time.Minute

// settleTimeout bounds the wait for goroutines to wind down after the
// stack is torn down.
const settleTimeout = 10 * time.Second

// rules are what every stream is checked against. The only failures
// upstream faults may explain are too few answers and no synthesis.
var rules = consultcheck.Rules{
	Secrets: []string{apiKey},
	Statuses: []string{
		consultcheck.Outcome(codes.Unavailable, server.ReasonQuorumNotMet),
		consultcheck.Outcome(codes.Unavailable, server.ReasonNoSynthesis),
	},
}

// tally counts outcomes; it is safe for concurrent use.
type tally struct {
	mu        sync.Mutex
	started   int
	completed int
	degraded  int
	cutOff    int
	failed    map[string]int
	problems  int
	examples  []string
	latencies []time.Duration
	peak      int
	running   int
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
// it at the end of its tail.
func (t *tally) add(v consultcheck.Verdict, d time.Duration, cutOff bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	switch {
	case cutOff:
		t.cutOff++
	case v.OK:
		t.completed++
		if v.Completed.GetDegraded() {
			t.degraded++
		}
		t.latencies = append(t.latencies, d)
	default:
		t.failed[v.Status]++
	}
	t.problems += len(v.Problems)
	for _, p := range v.Problems {
		if len(t.examples) < maxExamples {
			t.examples = append(t.examples, p)
		}
	}
}

// consultOnce runs one consultation on client and checks its stream.
// Consultations run under tail, which outlives the soak's duration so that
// those in flight at its end may finish.
func consultOnce(tail context.Context, client councilv1.CouncilClient, t *tally) {
	t.begin()
	began := time.Now()
	c := rules.Stream()
	err := func() error {
		stream, err := client.Consult(tail, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
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
	if tail.Err() != nil && err != nil {
		t.add(consultcheck.Verdict{}, 0, true)
		return
	}
	t.add(c.End(err), time.Since(began), false)
}

// soak runs the workers against a fresh stack and returns the report.
func soak(ctx context.Context, cfg config) (*report, error) {
	rep := &report{cfg: cfg, startGoroutines: runtime.NumGoroutine(), startMem: readMemory()}
	s, err := startStack(cfg)
	if err != nil {
		return nil, err
	}
	t := &tally{failed: map[string]int{}}
	window, stopWindow := context.WithTimeout(ctx, cfg.duration)
	defer stopWindow()
	tail, stopTail := context.WithCancel(context.WithoutCancel(ctx))
	defer stopTail()

	began := time.Now()
	var wg sync.WaitGroup
	for i := range cfg.concurrency {
		client := s.clients[i%len(s.clients)]
		wg.Go(func() {
			for window.Err() == nil {
				consultOnce(tail, client, t)
			}
		})
	}
	<-window.Done()
	rep.window = time.Since(began)
	rep.midGoroutines = runtime.NumGoroutine()
	rep.midMem = readMemory()
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
	rep.teardownErr = s.teardown()
	rep.endGoroutines = settle(rep.startGoroutines)
	rep.endMem = readMemory()

	t.mu.Lock()
	defer t.mu.Unlock()
	rep.started, rep.completed, rep.degraded, rep.cutOff = t.started, t.completed, t.degraded, t.cutOff
	rep.failed, rep.problems, rep.examples, rep.peak = t.failed, t.problems, t.examples, t.peak
	slices.Sort(t.latencies)
	rep.latencies = t.latencies
	return rep, nil
}

// settle waits, up to settleTimeout, for the goroutine count to fall back
// to want, and returns the count it reached.
func settle(want int) int {
	deadline := time.NewTimer(settleTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return n
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return n
		}
	}
}
