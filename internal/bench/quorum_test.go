package bench_test

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

// reviewGates is a Completer that answers every call at once, with the
// simulated models' text, except reviews: each reviewer's waits until the
// test opens its gate.
type reviewGates struct {
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (g *reviewGates) gate(model string) chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gates[model] == nil {
		g.gates[model] = make(chan struct{})
	}
	return g.gates[model]
}

func (g *reviewGates) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req.Metadata[provider.MetaStage] == orchestrator.StageReview.String() {
		select {
		case <-g.gate(req.Model):
		case <-ctx.Done():
			return nil, provider.AsError(ctx.Err())
		}
	}
	return &provider.Response{Model: req.Model, Content: sim.Write(req)}, nil
}

// eventLog collects a consultation's events and tells waiters of each.
type eventLog struct {
	mu      sync.Mutex
	events  []orchestrator.Event
	changed chan struct{}
}

func (l *eventLog) emit(e orchestrator.Event) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
	close(l.changed)
	l.changed = make(chan struct{})
	return nil
}

// waitFor blocks until cond holds for the events so far, or the
// consultation has ended, or patience runs out.
func (l *eventLog) waitFor(t *rapid.T, ended <-chan struct{}, cond func([]orchestrator.Event) bool) {
	timeout := time.After(patience)
	for {
		l.mu.Lock()
		ok, changed := cond(l.events), l.changed
		l.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-ended:
			return
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

// Property 9: synthesis starts as soon as the configured fraction of the
// rankings is in, whatever the fraction, the council's size and the order
// in which the reviewers finish; the later rankings still reach the
// caller, marked late, or are cancelled once the answer is written.
func TestPropertySynthesisStartsAtTheQuorum(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(2, 6).Draw(rt, "council")
		quorum := rapid.Float64Range(0.01, 1).Draw(rt, "quorum")
		council := make([]string, n)
		for i := range council {
			council[i] = fmt.Sprintf("m/%d", i)
		}
		order := rapid.Permutation(council).Draw(rt, "finishing order")
		needed := int(math.Ceil(quorum * float64(n)))

		gates := &reviewGates{gates: make(map[string]chan struct{})}
		c, err := orchestrator.New(gates, orchestrator.Config{Council: council, Chairman: "m/chair", ReviewQuorum: quorum})
		if err != nil {
			rt.Fatal(err)
		}
		log := &eventLog{changed: make(chan struct{})}
		// ended is closed when Consult returns, so every waiter sees it;
		// consultErr is read only after that.
		ended := make(chan struct{})
		var consultErr error
		go func() {
			defer close(ended)
			consultErr = c.Consult(context.Background(), orchestrator.Request{Query: "Why is the sky blue?"}, log.emit)
		}()

		for _, reviewer := range order {
			close(gates.gate(reviewer))
			// The reviewer's ranking (or, once the answer is written, its
			// cancellation) is reported before the next one finishes.
			log.waitFor(rt, ended, func(evs []orchestrator.Event) bool {
				for _, e := range evs {
					switch p := e.Payload.(type) {
					case *orchestrator.ModelRanked:
						if p.Reviewer == reviewer {
							return true
						}
					case *orchestrator.ModelFailed:
						if p.Model == reviewer && p.Stage == orchestrator.StageReview {
							return true
						}
					}
				}
				return false
			})
		}
		select {
		case <-ended:
		case <-time.After(patience):
			rt.Fatal("the consultation did not end")
		}
		if consultErr != nil {
			rt.Fatal(consultErr)
		}

		log.mu.Lock()
		defer log.mu.Unlock()
		onTime, late, canceled, aggregated := 0, 0, 0, false
		for _, e := range log.events {
			switch p := e.Payload.(type) {
			case *orchestrator.ModelRanked:
				if p.Late != aggregated {
					rt.Fatalf("ranking by %s marked late=%v, aggregate already sent: %v", p.Reviewer, p.Late, aggregated)
				}
				if p.Late {
					late++
				} else {
					onTime++
				}
			case *orchestrator.ModelFailed:
				if p.Stage != orchestrator.StageReview || p.Reason != orchestrator.ReasonCanceled || !aggregated {
					rt.Fatalf("unexpected failure %+v", p)
				}
				canceled++
			case *orchestrator.RankingsAggregated:
				aggregated = true
				if onTime != needed || p.Reviewers != needed {
					rt.Fatalf("synthesis began after %d rankings (aggregate of %d), want %d of %d at quorum %v", onTime, p.Reviewers, needed, n, quorum)
				}
			case *orchestrator.StageStarted:
				if p.Stage == orchestrator.StageSynthesize && !aggregated {
					rt.Fatal("synthesis started before the rankings were aggregated")
				}
			}
		}
		if onTime+late+canceled != n {
			rt.Fatalf("%d on time, %d late, %d cancelled; want every one of %d reviewers reported", onTime, late, canceled, n)
		}
	})
}
