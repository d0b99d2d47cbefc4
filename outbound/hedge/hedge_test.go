package hedge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/outbound/hedge"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// The tests but TestHedgeOverHTTP and the example run in synctest
// bubbles: time.Sleep moves the fake clock, and every check of what
// has or has not happened is made once the bubble's goroutines are all
// blocked (synctest.Wait), so a check can neither come too early nor
// pass for lack of waiting. Calls run under t.Context(), which is
// cancelled when the test ends, so that a failing test still lets
// every call in the bubble return.

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// bubbleStart is the time at which every synctest bubble starts.
var bubbleStart = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// patience bounds every wait on real time for something that should
// happen soon; it is generous so that a busy machine cannot make a test
// flaky.
const patience = 10 * time.Second

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

// next returns the next call to have reached g once the bubble is idle,
// and fails if none has.
func (g *gated) next(t *testing.T) upstreamCall {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-g.calls:
		return c
	default:
		t.Fatal("no upstream call arrived")
		return upstreamCall{}
	}
}

// none fails if a call has reached g once the bubble is idle.
func (g *gated) none(t *testing.T) {
	t.Helper()
	synctest.Wait()
	select {
	case c := <-g.calls:
		t.Fatalf("unexpected upstream call to %s, %v into the test", c.req.Model, time.Since(bubbleStart))
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

// wait returns a call's result once the bubble is idle, and fails if the
// call has not returned by then.
func wait(t *testing.T, out <-chan result) result {
	t.Helper()
	synctest.Wait()
	select {
	case r := <-out:
		return r
	default:
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

// warm runs one call per latency, each answered after that long, and
// fails if any of them is hedged: none is due a hedge, and none may
// call the backup while it runs.
func warm(t *testing.T, h *hedge.Hedger, g *gated, model, stage string, latencies ...time.Duration) {
	t.Helper()
	for _, d := range latencies {
		if d, ok := h.Delay(model, stage); ok {
			t.Fatalf("warm-up call to %s would be hedged after %v", model, d)
		}
		out := start(t.Context(), h.Interceptor(), g, request(model, stage))
		c := g.next(t)
		time.Sleep(d)
		g.none(t)
		c.answer("warm")
		if r := wait(t, out); r.err != nil {
			t.Fatalf("warm-up call: %v", r.err)
		}
	}
}

// newWarmHedger returns a hedger for primary → backup whose collect calls
// to primary are hedged after 90 ms.
func newWarmHedger(t *testing.T) (*hedge.Hedger, *gated) {
	t.Helper()
	h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}})
	g := newGated()
	warm(t, h, g, primary, "collect", ms(50, 10, 90, 30, 70, 20, 100, 40, 80, 60)...)
	return h, g
}

func ms(vs ...int) []time.Duration {
	out := make([]time.Duration, len(vs))
	for i, v := range vs {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

// startPrimary starts a collect call to primary through h and returns its
// result channel and its upstream call, the only one to have started.
func startPrimary(t *testing.T, ctx context.Context, h *hedge.Hedger, g *gated) (<-chan result, upstreamCall) {
	t.Helper()
	out := start(ctx, h.Interceptor(), g, request(primary, "collect"))
	p := g.next(t)
	if p.req.Model != primary {
		t.Fatalf("first upstream call to %s, want %s", p.req.Model, primary)
	}
	g.none(t)
	return out, p
}

// nextBackup returns the next upstream call, which must be the hedge of
// a call to primary.
func nextBackup(t *testing.T, g *gated) upstreamCall {
	t.Helper()
	b := g.next(t)
	if b.req.Model != backup || b.req.Metadata[hedge.MetaOf] != primary {
		t.Fatalf("call to %s (hedge of %q), want the hedge to %s", b.req.Model, b.req.Metadata[hedge.MetaOf], backup)
	}
	return b
}

// hedgedAt checks that no upstream call starts before d more has passed
// and that the hedge of a call to primary starts then, and returns it.
func hedgedAt(t *testing.T, g *gated, d time.Duration) upstreamCall {
	t.Helper()
	if d > 0 {
		time.Sleep(d - time.Nanosecond)
		g.none(t)
		time.Sleep(time.Nanosecond)
	}
	return nextBackup(t, g)
}

func TestHedgeDelayIsTheObservedQuantile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, Window: 10, MinSamples: 5})
		g := newGated()
		if _, ok := h.Delay(primary, "collect"); ok {
			t.Fatal("hedging before any latency was observed")
		}
		warm(t, h, g, primary, "collect", ms(10, 20, 30, 40)...)
		if _, ok := h.Delay(primary, "collect"); ok {
			t.Fatal("hedging after 4 latencies, MinSamples is 5")
		}
		warm(t, h, g, primary, "collect", ms(50)...)
		if d, ok := h.Delay(primary, "collect"); !ok || d != 50*time.Millisecond {
			t.Errorf("p90 of 10..50 ms = %v (%v), want 50ms", d, ok)
		}
		// The window keeps the last 10 latencies only: instant calls push the
		// warm-up latencies out one by one.
		instant := func(n int) {
			t.Helper()
			for range n {
				out, p := startPrimary(t, t.Context(), h, g)
				p.answer("a")
				if r := wait(t, out); r.err != nil || r.resp.Attempts != 0 {
					t.Fatalf("instant call: %+v, %v; want an unhedged answer", r.resp, r.err)
				}
			}
		}
		instant(5)
		if d, _ := h.Delay(primary, "collect"); d != 40*time.Millisecond {
			t.Errorf("p90 of five 0s and 10..50 ms = %v, want 40ms", d)
		}
		instant(4)
		if d, ok := h.Delay(primary, "collect"); !ok || d != 0 {
			t.Fatalf("p90 of nine 0s and 50 ms = %v (%v), want 0", d, ok)
		}
		// A zero delay hedges at once; the primary still wins when it
		// answers first.
		out := start(t.Context(), h.Interceptor(), g, request(primary, "collect"))
		calls := map[string]upstreamCall{}
		for range 2 {
			c := g.next(t)
			calls[c.req.Model] = c
		}
		p, b := calls[primary], calls[backup]
		if p.req == nil || b.req == nil || b.req.Metadata[hedge.MetaOf] != primary {
			t.Fatalf("calls to %v, want the primary and its hedge at once", calls)
		}
		g.none(t)
		p.answer("a")
		if r := wait(t, out); r.err != nil || r.resp.Content != "a" || r.resp.Attempts != 2 {
			t.Fatalf("call hedged at once: %+v, %v; want the primary's answer after 2 attempts", r.resp, r.err)
		}
		if b.ctx.Err() == nil {
			t.Error("the backup call was not cancelled")
		}
		if d, _ := h.Delay(primary, "collect"); d != 0 {
			t.Errorf("after ten instant calls the delay is %v, want 0", d)
		}
		// Stages and models are observed apart; models without a backup never hedge.
		if _, ok := h.Delay(primary, "review"); ok {
			t.Error("review calls hedged on collect latencies")
		}
		warm(t, h, g, backup, "collect", ms(1, 2, 3, 4, 5)...)
		if _, ok := h.Delay(backup, "collect"); ok {
			t.Error("a model without a backup is hedged")
		}
	})
}

func TestHedgeDefaultQuantileIsP90(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, _ := newWarmHedger(t)
		if d, ok := h.Delay(primary, "collect"); !ok || d != 90*time.Millisecond {
			t.Errorf("delay %v (%v), want the p90 of 10..100 ms, 90ms", d, ok)
		}
	})
}

func TestHedgeBackupWinsWhenPrimaryIsSlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		req := request(primary, "collect")
		out := start(t.Context(), h.Interceptor(), g, req)
		p := g.next(t)
		b := hedgedAt(t, g, 90*time.Millisecond)
		if b.req.Metadata[provider.MetaConsultationID] != "c1" || b.req.Messages[0] != req.Messages[0] {
			t.Errorf("backup request: %+v", b.req)
		}
		if req.Model != primary || req.Metadata[hedge.MetaOf] != "" {
			t.Errorf("the caller's request was changed: %+v", req)
		}
		time.Sleep(5 * time.Millisecond)
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
	})
}

func TestHedgePrimaryWinsAfterTheHedge(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		out, p := startPrimary(t, t.Context(), h, g)
		b := hedgedAt(t, g, 90*time.Millisecond)
		p.answer("from the primary")
		r := wait(t, out)
		if r.err != nil || r.resp.Content != "from the primary" || r.resp.Attempts != 2 {
			t.Fatalf("result %+v, %v; want the primary's answer after 2 attempts", r.resp, r.err)
		}
		if b.ctx.Err() == nil {
			t.Error("the backup call was not cancelled")
		}
	})
}

func TestHedgeNotSentWhenPrimaryIsFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		out, p := startPrimary(t, t.Context(), h, g)
		time.Sleep(90*time.Millisecond - time.Nanosecond)
		g.none(t)
		p.answer("in time")
		r := wait(t, out)
		if r.err != nil || r.resp.Content != "in time" || r.resp.Attempts != 0 {
			t.Fatalf("result %+v, %v", r.resp, r.err)
		}
		time.Sleep(time.Hour)
		g.none(t)
	})
}

func TestHedgeNotSentAfterAnEarlyFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		out, p := startPrimary(t, t.Context(), h, g)
		p.fail(&provider.Error{Kind: provider.KindOverloaded, Message: "overloaded"})
		r := wait(t, out)
		var pe *provider.Error
		if !errors.As(r.err, &pe) || pe.Kind != provider.KindOverloaded {
			t.Fatalf("error %v, want the primary's", r.err)
		}
		time.Sleep(time.Hour)
		g.none(t)
		if d, _ := h.Delay(primary, "collect"); d != 90*time.Millisecond {
			t.Errorf("a failure changed the delay to %v", d)
		}
	})
}

func TestHedgeBothFail(t *testing.T) {
	for _, backupFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("backup fails first %v", backupFirst), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, g := newWarmHedger(t)
				out, p := startPrimary(t, t.Context(), h, g)
				b := hedgedAt(t, g, 90*time.Millisecond)
				primaryErr := &provider.Error{Kind: provider.KindUpstream, Message: "primary failed", Attempts: 3}
				backupErr := &provider.Error{Kind: provider.KindOverloaded, Message: "backup failed"}
				if backupFirst {
					b.fail(backupErr)
					g.none(t)
					p.fail(primaryErr)
				} else {
					p.fail(primaryErr)
					g.none(t)
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
		})
	}
}

func TestHedgeBackupAnswersAfterPrimaryFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		out, p := startPrimary(t, t.Context(), h, g)
		b := hedgedAt(t, g, 90*time.Millisecond)
		p.fail(&provider.Error{Kind: provider.KindUpstream, Message: "primary failed"})
		synctest.Wait()
		if b.ctx.Err() != nil {
			t.Fatal("the primary's failure cancelled the backup call")
		}
		b.answer("saved")
		if r := wait(t, out); r.err != nil || r.resp.Content != "saved" || r.resp.Attempts != 2 {
			t.Fatalf("result %+v, %v", r.resp, r.err)
		}
	})
}

func TestHedgeCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		for _, hedged := range []bool{false, true} {
			ctx, cancel := context.WithCancel(t.Context())
			out, p := startPrimary(t, ctx, h, g)
			var b upstreamCall
			if hedged {
				b = hedgedAt(t, g, 90*time.Millisecond)
			}
			cancel()
			r := wait(t, out)
			if r.err == nil || p.ctx.Err() == nil || (hedged && b.ctx.Err() == nil) {
				t.Errorf("hedged %v: error %v; primary cancelled %v", hedged, r.err, p.ctx.Err() != nil)
			}
		}
	})
}

func TestHedgeSkipsStreamedAndUnknownModels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		streamed := request(primary, "collect")
		streamed.OnDelta = func(string) {}
		other := request("other/model", "collect")
		for _, req := range []*provider.Request{streamed, other} {
			out := start(t.Context(), h.Interceptor(), g, req)
			c := g.next(t)
			if c.req != req {
				t.Errorf("%s: the request was not passed through as is", req.Model)
			}
			time.Sleep(time.Hour)
			g.none(t)
			c.answer("ok")
			if r := wait(t, out); r.err != nil {
				t.Fatal(r.err)
			}
			time.Sleep(time.Hour)
			g.none(t)
		}
	})
}

func TestHedgeRecoversPanics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, g := newWarmHedger(t)
		panicking := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
			if req.Model == primary {
				panic("bug")
			}
			return g.Complete(ctx, req)
		})
		out := start(t.Context(), h.Interceptor(), panicking, request(primary, "collect"))
		r := wait(t, out)
		var pe *provider.Error
		if !errors.As(r.err, &pe) || pe.Kind != provider.KindUnknown || strings.Contains(pe.Message, "bug") {
			t.Fatalf("error %+v, want a safe internal error", r.err)
		}
		time.Sleep(time.Hour)
		g.none(t)
	})
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
		type outcome struct {
			name string
			ok   bool
		}
		order := []outcome{{"primary", primaryOK}, {"backup", backupOK}}
		if backupFirst {
			order[0], order[1] = order[1], order[0]
		}
		// The bubble runs the hedged call and reports what came of it;
		// the property is checked outside, where rapid can report it.
		var r result
		var loserCancelled bool
		synctest.Test(t, func(t *testing.T) {
			h, g := newWarmHedger(t)
			out, p := startPrimary(t, t.Context(), h, g)
			b := hedgedAt(t, g, 90*time.Millisecond)
			calls := map[string]upstreamCall{"primary": p, "backup": b}
			settle := func(o outcome) {
				if o.ok {
					calls[o.name].answer(o.name)
				} else {
					calls[o.name].fail(&provider.Error{Kind: provider.KindUpstream, Message: o.name + " failed"})
				}
			}
			settle(order[0])
			synctest.Wait()
			if !order[0].ok {
				settle(order[1])
			}
			r = wait(t, out)
			loserCancelled = calls[order[1].name].ctx.Err() != nil
		})

		switch {
		case order[0].ok:
			if r.err != nil || r.resp.Content != order[0].name {
				rt.Fatalf("got %+v, %v; want %s's answer", r.resp, r.err, order[0].name)
			}
			if !loserCancelled {
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
// the primary's request is abandoned. It runs on real time, since a
// goroutine blocked on a socket is not durably blocked in a synctest
// bubble, and checks outcomes and counts, not timing.
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
		outs[m] = start(t.Context(), h.Interceptor(), g, requestIn(consultation, m, "collect"))
	}
	calls := map[string]upstreamCall{}
	for range models {
		c := g.next(t)
		calls[c.req.Model] = c
	}
	g.none(t)
	return outs, calls
}

// answerAfter lets d pass, checks that no further upstream call has
// started by then, answers the calls to models and waits for their
// results, so that the hedger has recorded them.
func answerAfter(t *testing.T, g *gated, d time.Duration, outs map[string]<-chan result, calls map[string]upstreamCall, models ...string) {
	t.Helper()
	time.Sleep(d)
	g.none(t)
	for _, m := range models {
		calls[m].answer(m)
		if r := wait(t, outs[m]); r.err != nil {
			t.Fatalf("%s: %v", m, r.err)
		}
	}
}

// expectHedge checks that the hedge of a call to primary starts after d
// more and not before, answers it, and checks that the primary call
// returns the backup's answer and that no further call starts, however
// long the test then waits.
func expectHedge(t *testing.T, g *gated, d time.Duration, out <-chan result) {
	t.Helper()
	hedgedAt(t, g, d).answer("from the backup")
	if r := wait(t, out); r.err != nil || r.resp.Model != backup {
		t.Fatalf("hedged call = %v, %v; want the backup's answer", r.resp, r.err)
	}
	time.Sleep(time.Hour)
	g.none(t)
}

func TestHedgeAtAMultipleOfTheStageMedian(t *testing.T) {
	// No history: the primary is hedged only because its consultation's
	// other calls set a pace. Two of four answer by 400 ms, so the median
	// is 400 ms.
	for _, tc := range []struct {
		multiple float64
		// remaining is how long after 400 ms the hedge starts.
		remaining time.Duration
	}{
		{0, 400 * time.Millisecond}, // the default, 2 × 400 ms
		{1.5, 200 * time.Millisecond},
		{1, 0},
		{0.5, 0},
	} {
		t.Run(fmt.Sprint(tc.multiple), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, MedianMultiple: tc.multiple})
				g := newGated()
				outs, calls := stageCalls(t, h, g, "c1", primary, "peer/a", "peer/b", "peer/c")
				answerAfter(t, g, 300*time.Millisecond, outs, calls, "peer/a")
				answerAfter(t, g, 100*time.Millisecond, outs, calls, "peer/b")
				expectHedge(t, g, tc.remaining, outs[primary])
				answerAfter(t, g, 0, outs, calls, "peer/c")
			})
		})
	}
}

func TestHedgeTheEarlierOfQuantileAndMedian(t *testing.T) {
	tests := []struct {
		name string
		// peers is when the other two of four calls answer; the median is
		// the later of them.
		peers [2]time.Duration
		// hedgeAt is when the backup is called.
		hedgeAt time.Duration
	}{
		// p90 is 90 ms; 2 × 50 ms = 100 ms comes later, so p90 holds.
		{"quantile first", [2]time.Duration{40 * time.Millisecond, 50 * time.Millisecond}, 90 * time.Millisecond},
		// 2 × 20 ms = 40 ms comes before p90.
		{"median first", [2]time.Duration{10 * time.Millisecond, 20 * time.Millisecond}, 40 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h, g := newWarmHedger(t)
				outs, calls := stageCalls(t, h, g, "c2", primary, "peer/a", "peer/b", "peer/c")
				answerAfter(t, g, tc.peers[0], outs, calls, "peer/a")
				answerAfter(t, g, tc.peers[1]-tc.peers[0], outs, calls, "peer/b")
				expectHedge(t, g, tc.hedgeAt-tc.peers[1], outs[primary])
				answerAfter(t, g, 0, outs, calls, "peer/c")
			})
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
			synctest.Test(t, func(t *testing.T) {
				h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}, MedianMultiple: tc.multiple})
				g := newGated()
				out := start(t.Context(), h.Interceptor(), g, requestIn("c1", primary, "collect"))
				p := g.next(t)
				outs := map[string]<-chan result{}
				for _, m := range []string{"peer/a", "peer/b", "peer/c"} {
					outs[m] = start(t.Context(), h.Interceptor(), g, requestIn(tc.consultation, m, tc.stage))
				}
				calls := map[string]upstreamCall{}
				for range 3 {
					c := g.next(t)
					calls[c.req.Model] = c
				}
				answerAfter(t, g, 10*time.Millisecond, outs, calls, "peer/a", "peer/b", "peer/c")
				time.Sleep(time.Hour)
				g.none(t)
				p.answer("slow but alone")
				if r := wait(t, out); r.err != nil || r.resp.Model != primary {
					t.Fatalf("call = %v, %v; want the primary's answer", r.resp, r.err)
				}
			})
		})
	}
}

func TestHedgeMedianPastDueHedgesAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}})
		g := newGated()
		out := start(t.Context(), h.Interceptor(), g, requestIn("c1", primary, "collect"))
		p := g.next(t)
		time.Sleep(time.Second)
		outs, calls := stageCalls(t, h, g, "c1", "peer/a", "peer/b", "peer/c")
		answerAfter(t, g, 100*time.Millisecond, outs, calls, "peer/a", "peer/b")
		// Two of four answered in 100 ms; the primary has run 1.1 s, past
		// 2 × 100 ms.
		expectHedge(t, g, 0, out)
		if p.ctx.Err() == nil {
			t.Error("the primary call was not cancelled after the backup won")
		}
		answerAfter(t, g, 0, outs, calls, "peer/c")
	})
}

func TestHedgeGroupForgetsAPanickedCall(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := hedge.New(hedge.Config{Backups: map[string]string{primary: backup}})
		g := newGated()
		panicking := provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) {
			panic("boom")
		})
		func() {
			defer func() { _ = recover() }()
			_, _ = h.Interceptor()(t.Context(), requestIn("c1", "peer/panics", "collect"), panicking)
		}()
		// Had the panicked call stayed in the group, five calls would have
		// started and the median would need three answers.
		outs, calls := stageCalls(t, h, g, "c1", primary, "peer/a", "peer/b", "peer/c")
		answerAfter(t, g, 300*time.Millisecond, outs, calls, "peer/a")
		answerAfter(t, g, 100*time.Millisecond, outs, calls, "peer/b")
		expectHedge(t, g, 400*time.Millisecond, outs[primary])
		answerAfter(t, g, 0, outs, calls, "peer/c")
	})
}
