package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/outbound/hedge"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// patience bounds every wait for something that should happen soon; it is
// generous so that a busy machine cannot make a test flaky.
const patience = 10 * time.Second

// fakeClock is a hedge.Clock whose time moves only by Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan time.Duration // every new timer's duration
}

type fakeTimer struct {
	when    time.Time
	ch      chan time.Time
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Unix(1_700_000_000, 0), armed: make(chan time.Duration, 100)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{when: c.now.Add(d), ch: make(chan time.Time, 1)}
	c.timers = append(c.timers, t)
	c.armed <- d
	return t.ch, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := !t.stopped
		t.stopped = true
		return was
	}
}

// Advance moves the time on by d and fires the timers that fall due.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	for _, t := range c.timers {
		if !t.stopped && !t.when.After(c.now) {
			t.stopped = true
			t.ch <- c.now
		}
	}
}

// awaitTimer returns the duration of the next timer armed on c.
func (c *fakeClock) awaitTimer(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.armed:
		return d
	case <-time.After(patience):
		t.Fatal("no hedge timer was armed")
		return 0
	}
}

// noTimer fails if a timer has been armed.
func (c *fakeClock) noTimer(t *testing.T) {
	t.Helper()
	select {
	case d := <-c.armed:
		t.Fatalf("a hedge timer of %v was armed", d)
	default:
	}
}

// upstreamCall is one call that reached the gated completer.
type upstreamCall struct {
	ctx   context.Context
	req   *provider.Request
	reply chan reply
}

type reply struct {
	resp *provider.Response
	err  error
}

// answer makes the call succeed with content.
func (c upstreamCall) answer(content string) {
	c.reply <- reply{resp: &provider.Response{Model: c.req.Model, Content: content}}
}

// fail makes the call fail with err.
func (c upstreamCall) fail(err error) { c.reply <- reply{err: err} }

// gated is a Completer whose calls wait for the test to answer them or
// for their context to end.
type gated struct{ calls chan upstreamCall }

func newGated() *gated { return &gated{calls: make(chan upstreamCall, 10)} }

func (g *gated) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	c := upstreamCall{ctx: ctx, req: req, reply: make(chan reply, 1)}
	g.calls <- c
	select {
	case r := <-c.reply:
		return r.resp, r.err
	case <-ctx.Done():
		return nil, &provider.Error{Kind: provider.KindCanceled, Message: "canceled", Err: ctx.Err()}
	}
}

// next returns the next call to reach g.
func (g *gated) next(t *testing.T) upstreamCall {
	t.Helper()
	select {
	case c := <-g.calls:
		return c
	case <-time.After(patience):
		t.Fatal("no upstream call arrived")
		return upstreamCall{}
	}
}

// none fails if a call has reached g.
func (g *gated) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-g.calls:
		t.Fatalf("unexpected upstream call to %s", c.req.Model)
	default:
	}
}

type result struct {
	resp *provider.Response
	err  error
}

// start runs one call through ic to next on its own goroutine.
func start(ctx context.Context, ic provider.Interceptor, next provider.Completer, req *provider.Request) <-chan result {
	out := make(chan result, 1)
	go func() {
		resp, err := ic(ctx, req, next)
		out <- result{resp, err}
	}()
	return out
}

// wait returns a call's result.
func wait(t *testing.T, out <-chan result) result {
	t.Helper()
	select {
	case r := <-out:
		return r
	case <-time.After(patience):
		t.Fatal("the call did not return")
		return result{}
	}
}

const (
	primary = "fast/primary"
	backup  = "fast/backup"
)

func request(model, stage string) *provider.Request {
	return &provider.Request{
		Model:    model,
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "Why is the sky blue?"}},
		Metadata: map[string]string{provider.MetaStage: stage, provider.MetaConsultationID: "c1"},
	}
}

// warm runs one unhedged call per latency, each taking that long on clk.
func warm(t *testing.T, h *hedge.Hedger, g *gated, clk *fakeClock, model, stage string, latencies ...time.Duration) {
	t.Helper()
	for _, d := range latencies {
		out := start(context.Background(), h.Interceptor(), g, request(model, stage))
		c := g.next(t)
		clk.Advance(d)
		c.answer("warm")
		if r := wait(t, out); r.err != nil {
			t.Fatalf("warm-up call: %v", r.err)
		}
	}
	clk.noTimer(t)
}

// newWarmHedger returns a hedger for primary → backup whose collect calls
// to primary are hedged after 90 ms of fake time.
func newWarmHedger(t *testing.T) (*hedge.Hedger, *gated, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk})
	g := newGated()
	warm(t, h, g, clk, primary, "collect", ms(50, 10, 90, 30, 70, 20, 100, 40, 80, 60)...)
	return h, g, clk
}

func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestHedgeDelayIsTheObservedQuantile(t *testing.T) {
	clk := newFakeClock()
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk, Window: 10, MinSamples: 5})
	g := newGated()
	if _, ok := h.Delay(primary, "collect"); ok {
		t.Fatal("hedging before any latency was observed")
	}
	warm(t, h, g, clk, primary, "collect", ms(10, 20, 30, 40)...)
	if _, ok := h.Delay(primary, "collect"); ok {
		t.Fatal("hedging after 4 latencies, MinSamples is 5")
	}
	warm(t, h, g, clk, primary, "collect", ms(50)...)
	if d, ok := h.Delay(primary, "collect"); !ok || d != 50*time.Millisecond {
		t.Errorf("p90 of 10..50 ms = %v (%v), want 50ms", d, ok)
	}
	// The window keeps the last 10 latencies only: instant calls push the
	// warm-up latencies out one by one.
	instant := func(n int) {
		for range n {
			out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
			clk.awaitTimer(t)
			g.next(t).answer("a")
			if r := wait(t, out); r.err != nil {
				t.Fatal(r.err)
			}
		}
	}
	instant(5)
	if d, _ := h.Delay(primary, "collect"); d != 40*time.Millisecond {
		t.Errorf("p90 of five 0s and 10..50 ms = %v, want 40ms", d)
	}
	instant(5)
	if d, _ := h.Delay(primary, "collect"); d != 0 {
		t.Errorf("after ten instant calls the delay is %v, want 0", d)
	}
	// Stages and models are observed apart; models without a backup never hedge.
	if _, ok := h.Delay(primary, "review"); ok {
		t.Error("review calls hedged on collect latencies")
	}
	warm(t, h, g, clk, backup, "collect", ms(1, 2, 3, 4, 5)...)
	if _, ok := h.Delay(backup, "collect"); ok {
		t.Error("a model without a backup is hedged")
	}
}

func TestHedgeDefaultQuantileIsP90(t *testing.T) {
	h, _, _ := newWarmHedger(t)
	if d, ok := h.Delay(primary, "collect"); !ok || d != 90*time.Millisecond {
		t.Errorf("delay %v (%v), want the p90 of 10..100 ms, 90ms", d, ok)
	}
}

func TestHedgeBackupWinsWhenPrimaryIsSlow(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	req := request(primary, "collect")
	out := start(context.Background(), h.Interceptor(), g, req)
	p := g.next(t)
	if d := clk.awaitTimer(t); d != 90*time.Millisecond {
		t.Fatalf("hedge armed after %v, want 90ms", d)
	}
	g.none(t)
	clk.Advance(89 * time.Millisecond)
	g.none(t)
	clk.Advance(time.Millisecond)
	b := g.next(t)
	if b.req.Model != backup || b.req.Metadata[hedge.MetaOf] != primary || b.req.Metadata[provider.MetaConsultationID] != "c1" {
		t.Errorf("backup request: model %q, metadata %v", b.req.Model, b.req.Metadata)
	}
	if req.Model != primary || req.Metadata[hedge.MetaOf] != "" {
		t.Errorf("the caller's request was changed: %+v", req)
	}
	clk.Advance(5 * time.Millisecond)
	b.answer("from the backup")
	r := wait(t, out)
	if r.err != nil || r.resp.Content != "from the backup" || r.resp.Model != backup || r.resp.Attempts != 2 {
		t.Fatalf("result %+v, %v; want the backup's answer after 2 attempts", r.resp, r.err)
	}
	if p.ctx.Err() == nil {
		t.Error("the primary call was not cancelled")
	}
	// The cancelled primary ran 95 ms: a lower bound that joins its window.
	if d, _ := h.Delay(primary, "collect"); d != 95*time.Millisecond {
		t.Errorf("delay after a 95 ms lower bound = %v, want 95ms", d)
	}
}

func TestHedgePrimaryWinsAfterTheHedge(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
	p := g.next(t)
	clk.awaitTimer(t)
	clk.Advance(90 * time.Millisecond)
	b := g.next(t)
	p.answer("from the primary")
	r := wait(t, out)
	if r.err != nil || r.resp.Content != "from the primary" || r.resp.Attempts != 2 {
		t.Fatalf("result %+v, %v; want the primary's answer after 2 attempts", r.resp, r.err)
	}
	if b.ctx.Err() == nil {
		t.Error("the backup call was not cancelled")
	}
}

func TestHedgeNotSentWhenPrimaryIsFast(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
	p := g.next(t)
	clk.awaitTimer(t)
	clk.Advance(89 * time.Millisecond)
	p.answer("in time")
	r := wait(t, out)
	if r.err != nil || r.resp.Content != "in time" || r.resp.Attempts != 0 {
		t.Fatalf("result %+v, %v", r.resp, r.err)
	}
	clk.Advance(time.Hour)
	g.none(t)
}

func TestHedgeNotSentAfterAnEarlyFailure(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
	p := g.next(t)
	clk.awaitTimer(t)
	p.fail(&provider.Error{Kind: provider.KindOverloaded, Message: "overloaded"})
	r := wait(t, out)
	var pe *provider.Error
	if !errors.As(r.err, &pe) || pe.Kind != provider.KindOverloaded {
		t.Fatalf("error %v, want the primary's", r.err)
	}
	clk.Advance(time.Hour)
	g.none(t)
	if d, _ := h.Delay(primary, "collect"); d != 90*time.Millisecond {
		t.Errorf("a failure changed the delay to %v", d)
	}
}

func TestHedgeBothFail(t *testing.T) {
	for _, backupFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("backup fails first %v", backupFirst), func(t *testing.T) {
			h, g, clk := newWarmHedger(t)
			out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
			p := g.next(t)
			clk.awaitTimer(t)
			clk.Advance(time.Second)
			b := g.next(t)
			primaryErr := &provider.Error{Kind: provider.KindUpstream, Message: "primary failed", Attempts: 3}
			backupErr := &provider.Error{Kind: provider.KindOverloaded, Message: "backup failed"}
			if backupFirst {
				b.fail(backupErr)
				p.fail(primaryErr)
			} else {
				p.fail(primaryErr)
				b.fail(backupErr)
			}
			r := wait(t, out)
			var pe *provider.Error
			if !errors.As(r.err, &pe) || pe.Kind != provider.KindUpstream || pe.Attempts != 4 {
				t.Fatalf("error %+v, want the primary's with 3+1 attempts", r.err)
			}
			if primaryErr.Attempts != 3 {
				t.Error("the primary's error value was modified")
			}
		})
	}
}

func TestHedgeBackupAnswersAfterPrimaryFails(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
	p := g.next(t)
	clk.awaitTimer(t)
	clk.Advance(time.Second)
	b := g.next(t)
	p.fail(&provider.Error{Kind: provider.KindUpstream, Message: "primary failed"})
	b.answer("saved")
	if r := wait(t, out); r.err != nil || r.resp.Content != "saved" || r.resp.Attempts != 2 {
		t.Fatalf("result %+v, %v", r.resp, r.err)
	}
}

func TestHedgeCallerCancels(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	for _, hedged := range []bool{false, true} {
		ctx, cancel := context.WithCancel(context.Background())
		out := start(ctx, h.Interceptor(), g, request(primary, "collect"))
		p := g.next(t)
		clk.awaitTimer(t)
		var b upstreamCall
		if hedged {
			clk.Advance(time.Second)
			b = g.next(t)
		}
		cancel()
		r := wait(t, out)
		if r.err == nil || p.ctx.Err() == nil || (hedged && b.ctx.Err() == nil) {
			t.Errorf("hedged %v: error %v; primary cancelled %v", hedged, r.err, p.ctx.Err() != nil)
		}
	}
}

func TestHedgeSkipsStreamedAndUnknownModels(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	streamed := request(primary, "collect")
	streamed.OnDelta = func(string) {}
	other := request("other/model", "collect")
	for _, req := range []*provider.Request{streamed, other} {
		out := start(context.Background(), h.Interceptor(), g, req)
		c := g.next(t)
		if c.req != req {
			t.Errorf("%s: the request was not passed through as is", req.Model)
		}
		clk.Advance(time.Hour)
		c.answer("ok")
		if r := wait(t, out); r.err != nil {
			t.Fatal(r.err)
		}
		clk.noTimer(t)
		g.none(t)
	}
}

func TestHedgeRecoversPanics(t *testing.T) {
	h, g, clk := newWarmHedger(t)
	panicking := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		if req.Model == primary {
			panic("bug")
		}
		return g.Complete(ctx, req)
	})
	out := start(context.Background(), h.Interceptor(), panicking, request(primary, "collect"))
	clk.awaitTimer(t)
	r := wait(t, out)
	var pe *provider.Error
	if !errors.As(r.err, &pe) || pe.Kind != provider.KindUnknown || strings.Contains(pe.Message, "bug") {
		t.Fatalf("error %+v, want a safe internal error", r.err)
	}
}

// TestHedgeFirstSuccessWins checks, for random outcomes and completion
// orders of the two calls, that the first success is returned, that both
// failing returns the primary's error, that the losing call is cancelled
// and that Attempts counts both calls.
func TestHedgeFirstSuccessWins(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		primaryOK := rapid.Bool().Draw(rt, "primaryOK")
		backupOK := rapid.Bool().Draw(rt, "backupOK")
		backupFirst := rapid.Bool().Draw(rt, "backupFirst")
		h, g, clk := newWarmHedger(t)
		out := start(context.Background(), h.Interceptor(), g, request(primary, "collect"))
		p := g.next(t)
		clk.awaitTimer(t)
		clk.Advance(90 * time.Millisecond)
		b := g.next(t)

		settle := func(c upstreamCall, ok bool, name string) {
			if c.ctx.Err() != nil {
				return // already cancelled by the winner
			}
			if ok {
				c.answer(name)
			} else {
				c.fail(&provider.Error{Kind: provider.KindUpstream, Message: name + " failed"})
			}
		}
		order := []struct {
			c    upstreamCall
			ok   bool
			name string
		}{{p, primaryOK, "primary"}, {b, backupOK, "backup"}}
		if backupFirst {
			order[0], order[1] = order[1], order[0]
		}
		settle(order[0].c, order[0].ok, order[0].name)
		if !order[0].ok {
			settle(order[1].c, order[1].ok, order[1].name)
		}
		r := wait(t, out)

		switch {
		case order[0].ok:
			if r.err != nil || r.resp.Content != order[0].name {
				rt.Fatalf("got %+v, %v; want %s's answer", r.resp, r.err, order[0].name)
			}
			if order[1].c.ctx.Err() == nil {
				rt.Fatalf("the losing %s call was not cancelled", order[1].name)
			}
		case order[1].ok:
			if r.err != nil || r.resp.Content != order[1].name {
				rt.Fatalf("got %+v, %v; want %s's answer", r.resp, r.err, order[1].name)
			}
		default:
			if r.err == nil || !strings.Contains(r.err.Error(), "primary failed") {
				rt.Fatalf("got %v, want the primary's error", r.err)
			}
		}
		attempts := 0
		if r.resp != nil {
			attempts = r.resp.Attempts
		} else {
			attempts = provider.AsError(r.err).Attempts
		}
		if attempts != 2 {
			rt.Fatalf("attempts %d, want 2", attempts)
		}
	})
}

// TestHedgeOverHTTP hedges a real OpenRouter client call against the fake
// OpenRouter: the primary's second request hangs, the backup answers, and
// the primary's request is abandoned.
func TestHedgeOverHTTP(t *testing.T) {
	upstream := openroutertest.NewServer(openroutertest.WithScript(func(model string, n int) openroutertest.Behavior {
		if model == primary && n > 1 {
			return openroutertest.Behavior{Fault: openroutertest.FaultHang}
		}
		return openroutertest.Behavior{Content: "answer from " + model}
	}))
	defer upstream.Close()
	transport := openrouter.NewTransport()
	defer transport.CloseIdleConnections()
	client, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{BaseURL: upstream.URL(), APIKey: upstream.Key()})
	if err != nil {
		t.Fatal(err)
	}
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, MinSamples: 1})
	c := provider.Chain(client, h.Interceptor())
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if resp, err := c.Complete(ctx, request(primary, "collect")); err != nil || resp.Content != "answer from "+primary {
		t.Fatalf("first call: %+v, %v", resp, err)
	}
	resp, err := c.Complete(ctx, request(primary, "collect"))
	if err != nil || resp.Content != "answer from "+backup || resp.Attempts != 2 {
		t.Fatalf("hedged call: %+v, %v; want the backup's answer", resp, err)
	}
	if upstream.RequestsFor(primary) != 2 || upstream.RequestsFor(backup) != 1 {
		t.Errorf("requests: primary %d, backup %d", upstream.RequestsFor(primary), upstream.RequestsFor(backup))
	}
	deadline := time.Now().Add(patience)
	for upstream.Disconnected() != 1 || upstream.InFlight() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the hanging primary request was not abandoned: %d disconnected, %d in flight", upstream.Disconnected(), upstream.InFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ExampleHedger hedges calls to a model that stalls with a backup model.
func ExampleHedger() {
	calls := 0
	var mu sync.Mutex
	upstream := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if req.Model == "vendor/big" && n > 1 {
			<-ctx.Done() // stalls until the hedge wins
			return nil, provider.AsError(ctx.Err())
		}
		return &provider.Response{Model: req.Model, Content: "hello from " + req.Model}, nil
	})
	hedger := hedge.New(hedge.Config{
		Backups:    map[string]string{"vendor/big": "vendor/small"},
		MinSamples: 1,
	})
	c := provider.Chain(upstream, hedger.Interceptor())
	req := &provider.Request{
		Model:    "vendor/big",
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}},
		Metadata: map[string]string{provider.MetaStage: "collect"},
	}
	for range 2 {
		resp, err := c.Complete(context.Background(), req)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Println(resp.Content)
	}
	// Output:
	// hello from vendor/big
	// hello from vendor/small
}

// requestIn returns a request of model in the stage of a consultation.
func requestIn(consultation, model, stage string) *provider.Request {
	r := request(model, stage)
	r.Metadata[provider.MetaConsultationID] = consultation
	return r
}

// stageCalls starts calls to models in the collect stage of consultation
// and returns each one's result channel and upstream call by model.
func stageCalls(t *testing.T, h *hedge.Hedger, g *gated, consultation string, models ...string) (map[string]<-chan result, map[string]upstreamCall) {
	t.Helper()
	outs := map[string]<-chan result{}
	for _, m := range models {
		outs[m] = start(context.Background(), h.Interceptor(), g, requestIn(consultation, m, "collect"))
	}
	calls := map[string]upstreamCall{}
	for range models {
		c := g.next(t)
		calls[c.req.Model] = c
	}
	return outs, calls
}

// answerAfter advances clk by d, answers the calls to models and waits for
// their results, so that the hedger has recorded them.
func answerAfter(t *testing.T, clk *fakeClock, d time.Duration, outs map[string]<-chan result, calls map[string]upstreamCall, models ...string) {
	t.Helper()
	clk.Advance(d)
	for _, m := range models {
		calls[m].answer(m)
		if r := wait(t, outs[m]); r.err != nil {
			t.Fatalf("%s: %v", m, r.err)
		}
	}
}

// expectHedge checks that the next upstream call is primary's hedge and
// answers it, and that the primary call returns the backup's answer.
func expectHedge(t *testing.T, g *gated, out <-chan result) {
	t.Helper()
	c := g.next(t)
	if c.req.Model != backup || c.req.Metadata[hedge.MetaOf] != primary {
		t.Fatalf("call to %s (hedge of %q), want the hedge to %s", c.req.Model, c.req.Metadata[hedge.MetaOf], backup)
	}
	c.answer("from the backup")
	if r := wait(t, out); r.err != nil || r.resp.Model != backup {
		t.Fatalf("hedged call = %v, %v; want the backup's answer", r.resp, r.err)
	}
}

func TestHedgeAtAMultipleOfTheStageMedian(t *testing.T) {
	// No history: the primary is hedged only because its consultation's
	// other calls set a pace. Two of four answer by 400 ms, so the median
	// is 400 ms.
	for _, tc := range []struct {
		multiple float64
		// remaining is the hedge timer armed at 400 ms; zero hedges at once.
		remaining time.Duration
	}{
		{0, 400 * time.Millisecond}, // the default, 2 × 400 ms
		{1.5, 200 * time.Millisecond},
		{1, 0},
		{0.5, 0},
	} {
		t.Run(fmt.Sprint(tc.multiple), func(t *testing.T) {
			clk := newFakeClock()
			h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk, MedianMultiple: tc.multiple})
			g := newGated()
			outs, calls := stageCalls(t, h, g, "c1", primary, "peer/a", "peer/b", "peer/c")
			clk.noTimer(t)
			answerAfter(t, clk, 300*time.Millisecond, outs, calls, "peer/a")
			clk.noTimer(t)
			g.none(t)
			answerAfter(t, clk, 100*time.Millisecond, outs, calls, "peer/b")
			if tc.remaining > 0 {
				if d := clk.awaitTimer(t); d != tc.remaining {
					t.Fatalf("hedge timer armed for %v at 400 ms, want %v", d, tc.remaining)
				}
				clk.Advance(tc.remaining - time.Millisecond)
				g.none(t)
				clk.Advance(time.Millisecond)
			}
			expectHedge(t, g, outs[primary])
			clk.noTimer(t)
			answerAfter(t, clk, 0, outs, calls, "peer/c")
		})
	}
}

func TestHedgeTheEarlierOfQuantileAndMedian(t *testing.T) {
	tests := []struct {
		name string
		// peers is when the other two of four calls answer; the median is
		// the later of them.
		peers [2]time.Duration
		// rearm is the timer armed when the median is known, zero for none.
		rearm time.Duration
		// hedgeAt is when the backup is called.
		hedgeAt time.Duration
	}{
		// p90 is 90 ms; 2 × 50 ms = 100 ms comes later, so p90 holds.
		{"quantile first", [2]time.Duration{40 * time.Millisecond, 50 * time.Millisecond}, 0, 90 * time.Millisecond},
		// 2 × 20 ms = 40 ms comes before p90.
		{"median first", [2]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, 20 * time.Millisecond, 40 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, g, clk := newWarmHedger(t)
			outs, calls := stageCalls(t, h, g, "c2", primary, "peer/a", "peer/b", "peer/c")
			if d := clk.awaitTimer(t); d != 90*time.Millisecond {
				t.Fatalf("hedge timer armed for %v, want the p90, 90ms", d)
			}
			answerAfter(t, clk, tc.peers[0], outs, calls, "peer/a")
			answerAfter(t, clk, tc.peers[1]-tc.peers[0], outs, calls, "peer/b")
			if tc.rearm > 0 {
				if d := clk.awaitTimer(t); d != tc.rearm {
					t.Fatalf("timer re-armed for %v, want %v", d, tc.rearm)
				}
			} else {
				clk.noTimer(t)
			}
			clk.Advance(tc.hedgeAt - tc.peers[1] - time.Millisecond)
			g.none(t)
			clk.Advance(time.Millisecond)
			expectHedge(t, g, outs[primary])
			answerAfter(t, clk, 0, outs, calls, "peer/c")
		})
	}
}

func TestHedgeMedianIsPerConsultationAndStage(t *testing.T) {
	for _, tc := range []struct {
		name                string
		consultation, stage string
		multiple            float64
	}{
		{"other consultation", "c2", "collect", 0},
		{"other stage", "c1", "review", 0},
		{"adaptive delay off", "c1", "collect", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk, MedianMultiple: tc.multiple})
			g := newGated()
			out := start(context.Background(), h.Interceptor(), g, requestIn("c1", primary, "collect"))
			p := g.next(t)
			outs := map[string]<-chan result{}
			for _, m := range []string{"peer/a", "peer/b", "peer/c"} {
				outs[m] = start(context.Background(), h.Interceptor(), g, requestIn(tc.consultation, m, tc.stage))
			}
			calls := map[string]upstreamCall{}
			for range 3 {
				c := g.next(t)
				calls[c.req.Model] = c
			}
			answerAfter(t, clk, 10*time.Millisecond, outs, calls, "peer/a", "peer/b", "peer/c")
			clk.Advance(time.Second)
			clk.noTimer(t)
			g.none(t)
			p.answer("slow but alone")
			if r := wait(t, out); r.err != nil || r.resp.Model != primary {
				t.Fatalf("call = %v, %v; want the primary's answer", r.resp, r.err)
			}
		})
	}
}

func TestHedgeMedianPastDueHedgesAtOnce(t *testing.T) {
	clk := newFakeClock()
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk})
	g := newGated()
	out := start(context.Background(), h.Interceptor(), g, requestIn("c1", primary, "collect"))
	p := g.next(t)
	clk.Advance(time.Second)
	outs, calls := stageCalls(t, h, g, "c1", "peer/a", "peer/b", "peer/c")
	answerAfter(t, clk, 100*time.Millisecond, outs, calls, "peer/a", "peer/b")
	// Two of four answered in 100 ms; the primary has run 1.1 s, past
	// 2 × 100 ms.
	expectHedge(t, g, out)
	clk.noTimer(t)
	select {
	case <-p.ctx.Done():
	case <-time.After(patience):
		t.Error("the primary call was not cancelled after the backup won")
	}
	answerAfter(t, clk, 0, outs, calls, "peer/c")
}

func TestHedgeGroupForgetsAPanickedCall(t *testing.T) {
	clk := newFakeClock()
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Clock: clk})
	g := newGated()
	panicking := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
		panic("boom")
	})
	func() {
		defer func() { _ = recover() }()
		_, _ = h.Interceptor()(context.Background(), requestIn("c1", "peer/panics", "collect"), panicking)
	}()
	// Had the panicked call stayed in the group, five calls would have
	// started and the median would need three answers.
	outs, calls := stageCalls(t, h, g, "c1", primary, "peer/a", "peer/b", "peer/c")
	answerAfter(t, clk, 300*time.Millisecond, outs, calls, "peer/a")
	answerAfter(t, clk, 100*time.Millisecond, outs, calls, "peer/b")
	if d := clk.awaitTimer(t); d != 400*time.Millisecond {
		t.Fatalf("hedge timer armed for %v, want 400ms", d)
	}
	clk.Advance(400 * time.Millisecond)
	expectHedge(t, g, outs[primary])
	answerAfter(t, clk, 0, outs, calls, "peer/c")
}
