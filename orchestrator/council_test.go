package orchestrator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/provider"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tb is what the helpers need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

var testCouncil = []string{"m/a", "m/b", "m/c", "m/d"}

const testChair = "m/chair"

func newTestCouncil(t tb, f provider.Completer, mod ...func(*Config)) *Council {
	t.Helper()
	cfg := Config{
		Council:           testCouncil,
		Chairman:          testChair,
		CollectTimeout:    5 * time.Second,
		ReviewTimeout:     5 * time.Second,
		SynthesizeTimeout: 5 * time.Second,
	}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// consult runs a consultation and returns every event it emitted.
func consult(c *Council, ctx context.Context, req Request) ([]Event, error) {
	var evs []Event
	err := c.Consult(ctx, req, func(e Event) error {
		evs = append(evs, e)
		return nil
	})
	return evs, err
}

// checkStream asserts what holds for every stream: sequence 1..n without
// gaps, one consultation id, stages that never go back, ConsultStarted
// first and, when complete, ConsultCompleted last.
func checkStream(t tb, evs []Event, completed bool) {
	t.Helper()
	if len(evs) == 0 {
		t.Fatal("no events")
	}
	if _, ok := evs[0].Payload.(*ConsultStarted); !ok {
		t.Fatalf("first event is %T, want *ConsultStarted", evs[0].Payload)
	}
	var maxStage Stage
	for i, e := range evs {
		if e.Sequence != uint64(i+1) {
			t.Fatalf("event %d has sequence %d", i, e.Sequence)
		}
		if e.ConsultationID != evs[0].ConsultationID || e.ConsultationID == "" {
			t.Fatalf("event %d has consultation id %q, want %q", i, e.ConsultationID, evs[0].ConsultationID)
		}
		if e.Stage < maxStage {
			t.Fatalf("event %d (%T) in stage %v after stage %v", i, e.Payload, e.Stage, maxStage)
		}
		if e.Stage > maxStage {
			maxStage = e.Stage
		}
		if _, ok := e.Payload.(*ConsultCompleted); ok && i != len(evs)-1 {
			t.Fatalf("ConsultCompleted at %d of %d", i, len(evs))
		}
	}
	_, last := evs[len(evs)-1].Payload.(*ConsultCompleted)
	if last != completed {
		t.Fatalf("stream ends with %T, completed=%v", evs[len(evs)-1].Payload, completed)
	}
}

func payloads[T any](evs []Event) []T {
	var out []T
	for _, e := range evs {
		if p, ok := e.Payload.(T); ok {
			out = append(out, p)
		}
	}
	return out
}

func TestConsultFullRun(t *testing.T) {
	f := newScripted()
	c := newTestCouncil(t, f)
	evs, err := consult(c, context.Background(), Request{Query: "Why is the sky blue?", RequestID: "req-1"})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)

	started := evs[0].Payload.(*ConsultStarted)
	if started.RequestID != "req-1" || started.Chairman != testChair || strings.Join(started.Council, ",") != strings.Join(testCouncil, ",") {
		t.Fatalf("ConsultStarted = %+v", started)
	}
	if n := len(payloads[*ModelAnswered](evs)); n != 4 {
		t.Fatalf("%d answers, want 4", n)
	}
	ranked := payloads[*ModelRanked](evs)
	if len(ranked) != 4 {
		t.Fatalf("%d rankings, want 4 (late ones included)", len(ranked))
	}
	for _, r := range ranked {
		if len(r.Ranking) != 3 {
			t.Fatalf("reviewer %s ranked %v, want the 3 other models", r.Reviewer, r.Ranking)
		}
		for _, m := range r.Ranking {
			if m == r.Reviewer {
				t.Fatalf("reviewer %s ranked its own answer", r.Reviewer)
			}
		}
	}
	agg := payloads[*RankingsAggregated](evs)
	if len(agg) != 1 || len(agg[0].Entries) != 4 || agg[0].Reviewers < 2 {
		t.Fatalf("aggregate = %+v", agg)
	}
	final := payloads[*FinalAnswer](evs)
	if len(final) != 1 || final[0].Model != testChair || final[0].Fallback {
		t.Fatalf("final = %+v", final)
	}
	var streamed strings.Builder
	for _, d := range payloads[*SynthesisDelta](evs) {
		streamed.WriteString(d.Text)
	}
	if streamed.String() != final[0].Content {
		t.Fatalf("deltas %q do not add up to the answer %q", streamed.String(), final[0].Content)
	}
	done := evs[len(evs)-1].Payload.(*ConsultCompleted)
	if done.Degraded || len(done.Excluded) != 0 {
		t.Fatalf("completed = %+v, want not degraded", done)
	}
	if done.Usage.InputTokens != 10*9 {
		t.Fatalf("usage = %+v, want the sum of 9 calls", done.Usage)
	}
	for _, s := range []Stage{StageCollect, StageReview, StageSynthesize} {
		if _, ok := done.StageDurations[s]; !ok {
			t.Fatalf("no duration for stage %v", s)
		}
	}
	if len(payloads[*StageCompleted](evs)) != 3 || len(payloads[*StageStarted](evs)) != 3 {
		t.Fatal("want three stages started and completed")
	}
}

func TestConsultStreamsEachAnswerAsItArrives(t *testing.T) {
	gate := make(chan struct{})
	f := newScripted().set("m/d", behavior{gate: gate}, StageCollect)
	c := newTestCouncil(t, f)
	answered := 0
	err := c.Consult(context.Background(), Request{Query: "q"}, func(e Event) error {
		if a, ok := e.Payload.(*ModelAnswered); ok {
			if a.Model == "m/d" && answered != 3 {
				t.Errorf("slowest model answered after %d answers, want 3", answered)
			}
			answered++
			if answered == 3 {
				close(gate) // the slowest model answers only once three answers were emitted
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if answered != 4 {
		t.Fatalf("%d answers", answered)
	}
}

func TestConsultDegradesWhenModelsFail(t *testing.T) {
	boom := &provider.Error{Kind: provider.KindOverloaded, Message: "upstream returned 503", Err: errors.New("secret upstream text")}
	for failing := 1; failing <= 3; failing++ {
		f := newScripted()
		for _, m := range testCouncil[:failing] {
			f.set(m, behavior{err: boom}, StageCollect)
		}
		evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q"})
		failed := payloads[*ModelFailed](evs)
		if len(failed) != failing {
			t.Fatalf("%d failing: %d ModelFailed events", failing, len(failed))
		}
		for _, e := range failed {
			if e.Reason != ReasonUpstreamError || strings.Contains(e.Message, "secret") {
				t.Fatalf("ModelFailed = %+v", e)
			}
		}
		if failing == 3 {
			if !errors.Is(err, ErrQuorumNotMet) {
				t.Fatalf("3 failing: err = %v, want ErrQuorumNotMet", err)
			}
			checkStream(t, evs, false)
			if len(payloads[*FinalAnswer](evs)) != 0 {
				t.Fatal("an answer was sent without a quorum")
			}
			continue
		}
		if err != nil {
			t.Fatalf("%d failing: %v", failing, err)
		}
		checkStream(t, evs, true)
		done := evs[len(evs)-1].Payload.(*ConsultCompleted)
		if !done.Degraded || len(done.Excluded) != failing {
			t.Fatalf("%d failing: completed = %+v", failing, done)
		}
		if n := len(f.requestsFor(StageReview)); n != 4-failing {
			t.Fatalf("%d failing: %d reviews asked, want only the %d models that answered", failing, n, 4-failing)
		}
	}
}

func TestConsultChairmanFallback(t *testing.T) {
	boom := &provider.Error{Kind: provider.KindUpstream, Message: "upstream returned 500"}
	f := newScripted().set(testChair, behavior{err: boom})
	evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	final := payloads[*FinalAnswer](evs)
	if len(final) != 1 || !final[0].Fallback || final[0].Model == testChair {
		t.Fatalf("final = %+v, want a fallback chairman", final)
	}
	agg := payloads[*RankingsAggregated](evs)[0]
	if final[0].Model != agg.Entries[0].Model {
		t.Fatalf("fallback %s, want the best-ranked model %s", final[0].Model, agg.Entries[0].Model)
	}
	if !evs[len(evs)-1].Payload.(*ConsultCompleted).Degraded {
		t.Fatal("a fallback answer must be marked degraded")
	}
}

func TestConsultChairmanAndFallbackFail(t *testing.T) {
	boom := &provider.Error{Kind: provider.KindUpstream, Message: "upstream returned 500"}
	f := newScripted().set(testChair, behavior{err: boom}).set("m/fb", behavior{err: boom})
	c := newTestCouncil(t, f, func(c *Config) { c.FallbackChairman = "m/fb" })
	evs, err := consult(c, context.Background(), Request{Query: "q"})
	if !errors.Is(err, ErrNoSynthesis) {
		t.Fatalf("err = %v, want ErrNoSynthesis", err)
	}
	checkStream(t, evs, false)
	if len(payloads[*FinalAnswer](evs)) != 0 {
		t.Fatal("a failed synthesis was sent as an answer")
	}
	if n := len(payloads[*ModelFailed](evs)); n != 2 {
		t.Fatalf("%d ModelFailed, want chairman and fallback", n)
	}
}

func TestConsultModelTimeout(t *testing.T) {
	f := newScripted().set("m/b", behavior{hang: true}, StageCollect)
	c := newTestCouncil(t, f, func(c *Config) { c.CollectTimeout = 50 * time.Millisecond })
	evs, err := consult(c, context.Background(), Request{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	failed := payloads[*ModelFailed](evs)
	if len(failed) != 1 || failed[0].Model != "m/b" || failed[0].Reason != ReasonTimeout {
		t.Fatalf("failed = %+v, want m/b timed out", failed)
	}
}

func TestConsultCancelStopsEveryCall(t *testing.T) {
	f := newScripted()
	for _, m := range testCouncil {
		f.set(m, behavior{hang: true})
	}
	c := newTestCouncil(t, f)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := consult(c, ctx, Request{Query: "q"})
		errc <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for f.inFlight.Load() < 4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n := f.canceled.Load(); n != 4 {
		t.Fatalf("%d upstream calls saw the cancellation, want 4", n)
	}
	if n := f.inFlight.Load(); n != 0 {
		t.Fatalf("%d calls still in flight after Consult returned", n)
	}
}

func TestConsultStopsWhenEmitFails(t *testing.T) {
	c := newTestCouncil(t, newScripted())
	gone := errors.New("client gone")
	n := 0
	err := c.Consult(context.Background(), Request{Query: "q"}, func(e Event) error {
		n++
		if n == 3 {
			return gone
		}
		return nil
	})
	if !errors.Is(err, gone) || n != 3 {
		t.Fatalf("err = %v after %d events, want the emit error after 3", err, n)
	}
}

func TestReviewerNeverSeesItsOwnAnswer(t *testing.T) {
	f := newScripted()
	c := newTestCouncil(t, f)
	if _, err := consult(c, context.Background(), Request{Query: "q"}); err != nil {
		t.Fatal(err)
	}
	reviews := f.requestsFor(StageReview)
	if len(reviews) != 4 {
		t.Fatalf("%d reviews", len(reviews))
	}
	for _, r := range reviews {
		prompt := r.Messages[0].Content
		if strings.Contains(prompt, "Answer from "+r.Model+" ") {
			t.Fatalf("reviewer %s was shown its own answer", r.Model)
		}
		if got := len(shownLabel.FindAllString(prompt, -1)); got != 3 {
			t.Fatalf("reviewer %s was shown %d answers, want 3", r.Model, got)
		}
	}
}

func TestLabelsAreShuffledPerReviewer(t *testing.T) {
	c := newTestCouncil(t, newScripted())
	seen := map[string]bool{}
	for range 20 {
		evs, err := consult(c, context.Background(), Request{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range payloads[*ModelRanked](evs) {
			seen[r.Reviewer+"="+r.Labels["Response A"]] = true
		}
	}
	// Each of 4 reviewers can see 3 different models as Response A: 12 pairs.
	if len(seen) < 8 {
		t.Fatalf("only %d reviewer/Response A pairings in 20 runs; labels are not shuffled", len(seen))
	}
}

func TestSynthesisStartsAtReviewQuorum(t *testing.T) {
	gate := make(chan struct{})
	f := newScripted().
		set("m/c", behavior{gate: gate}, StageReview).
		set("m/d", behavior{gate: gate}, StageReview)
	c := newTestCouncil(t, f)
	var evs []Event
	err := c.Consult(context.Background(), Request{Query: "q"}, func(e Event) error {
		evs = append(evs, e)
		if s, ok := e.Payload.(*StageStarted); ok && s.Stage == StageSynthesize {
			close(gate) // the slow reviewers finish only once synthesis has started
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	agg := payloads[*RankingsAggregated](evs)[0]
	if agg.Reviewers != 2 {
		t.Fatalf("aggregate of %d rankings, want the 2 on time", agg.Reviewers)
	}
	var late int
	for _, r := range payloads[*ModelRanked](evs) {
		if r.Late {
			late++
		}
	}
	failed := payloads[*ModelFailed](evs)
	if late+len(failed) != 2 {
		t.Fatalf("%d late rankings and %d failures, want the 2 slow reviewers reported", late, len(failed))
	}
	for _, e := range failed {
		if e.Reason != ReasonCanceled {
			t.Fatalf("late reviewer failed with %v, want canceled", e.Reason)
		}
	}
}

func TestConsultRejectsBadRequests(t *testing.T) {
	c := newTestCouncil(t, newScripted(), func(c *Config) { c.KnownModels = append([]string{testChair}, testCouncil...) })
	cases := []struct {
		name  string
		req   Request
		field string
	}{
		{"unknown tier", Request{Query: "q", Tier: "turbo"}, "tier"},
		{"unknown model", Request{Query: "q", Council: []string{"m/a", "m/zzz"}}, "council_models[1]"},
		{"too many models", Request{Query: "q", Council: strings.Split("a,b,c,d,e,f,g,h,i", ",")}, "council_models"},
		{"too few models", Request{Query: "q", Council: []string{"m/a"}}, "council_models"},
		{"unknown chairman", Request{Query: "q", Chairman: "m/zzz"}, "chairman_model"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := consult(c, context.Background(), tc.req)
			var ire *InvalidRequestError
			if !errors.As(err, &ire) || ire.Field != tc.field {
				t.Fatalf("err = %v, want an InvalidRequestError on %q", err, tc.field)
			}
			if len(evs) != 0 {
				t.Fatalf("%d events emitted for a bad request", len(evs))
			}
		})
	}
}

func TestConsultNamesEveryUnknownModel(t *testing.T) {
	c := newTestCouncil(t, newScripted(), func(c *Config) { c.KnownModels = append([]string{testChair}, testCouncil...) })
	_, err := consult(c, context.Background(), Request{Query: "q", Council: []string{"m/x", testCouncil[0], "m/y"}, Chairman: "m/z"})
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ire *InvalidRequestError
		if errors.As(e, &ire) {
			fields = append(fields, ire.Field)
		}
	}
	if got := strings.Join(fields, " "); got != "council_models[0] council_models[2] chairman_model" {
		t.Errorf("fields %q in %v, want every unknown model named", got, err)
	}
}

func TestConsultUsesHistoryAndOverrides(t *testing.T) {
	f := newScripted()
	c := newTestCouncil(t, f)
	history := []provider.Message{{Role: provider.RoleUser, Content: "earlier"}, {Role: provider.RoleAssistant, Content: "reply"}}
	evs, err := consult(c, context.Background(), Request{Query: "now", History: history, Council: []string{"x/1", "x/2"}, Chairman: "x/chair"})
	if err != nil {
		t.Fatal(err)
	}
	started := evs[0].Payload.(*ConsultStarted)
	if strings.Join(started.Council, ",") != "x/1,x/2" || started.Chairman != "x/chair" {
		t.Fatalf("started = %+v", started)
	}
	for _, r := range f.requestsFor(StageCollect) {
		if len(r.Messages) != 3 || r.Messages[0].Content != "earlier" || r.Messages[2].Content != "now" {
			t.Fatalf("collect messages = %+v", r.Messages)
		}
		if r.MaxTokens <= 0 {
			t.Fatal("max tokens not set")
		}
	}
}

func TestConsultTierOverride(t *testing.T) {
	f := newScripted()
	c := newTestCouncil(t, f)
	evs, err := consult(c, context.Background(), Request{Query: "q", Tier: "Speed"})
	if err != nil {
		t.Fatal(err)
	}
	speed, _ := LookupTier("speed")
	started := evs[0].Payload.(*ConsultStarted)
	if started.Tier != "speed" || strings.Join(started.Council, ",") != strings.Join(speed.Council, ",") || started.Chairman != speed.Chairman {
		t.Fatalf("started = %+v, want the speed tier", started)
	}
}

func TestObserverSeesEveryCall(t *testing.T) {
	var got []Summary
	f := newScripted().set("m/a", behavior{delay: 30 * time.Millisecond}, StageCollect)
	c, err := New(f, Config{Council: testCouncil, Chairman: testChair}, WithObserver(ObserverFunc(func(_ context.Context, s Summary) { got = append(got, s) })))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := consult(c, context.Background(), Request{Query: "q"}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Err != nil {
		t.Fatalf("summaries = %+v", got)
	}
	var slow, fast time.Duration
	for _, call := range got[0].Calls {
		if call.Stage == StageCollect && call.Model == "m/a" {
			slow = call.Latency
		}
		if call.Stage == StageCollect && call.Model == "m/b" {
			fast = call.Latency
		}
	}
	if slow < 30*time.Millisecond || fast >= slow {
		t.Fatalf("latencies a=%v b=%v: each model must be timed on its own", slow, fast)
	}
}
