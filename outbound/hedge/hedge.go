// Package hedge sends a second copy of a slow model call to a backup model
// and keeps whichever answers first.
package hedge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/councilhq/council/internal/quantile"
	"github.com/councilhq/council/provider"
)

// MetaOf is the metadata key set on a hedged call's backup request:
// its value is the model whose call was hedged.
const MetaOf = "council.hedge_of"

// Defaults of the zero fields of a [Config].
const (
	// DefaultQuantile hedges a call once it is slower than 90% of
	// its model's recent calls.
	DefaultQuantile = 0.9
	// DefaultWindow is the number of recent latencies kept per model
	// and stage.
	DefaultWindow = 100
	// DefaultMinSamples is the number of latencies a model and stage
	// need before their calls are hedged.
	DefaultMinSamples = 10
	// DefaultMedianMultiple hedges a call once it has run twice the
	// median answer time of its consultation's stage, when that comes
	// before the model's observed quantile.
	DefaultMedianMultiple = 2.0
)

// Config configures a [Hedger]. Zero fields take their defaults.
type Config struct {
	// Backups maps a model id to the model that a slow call to it is
	// hedged with. Calls to models without an entry pass straight through;
	// an empty map hedges nothing.
	Backups map[string]string
	// Quantile is the fraction of a model's observed latencies after which
	// its call is hedged, in (0, 1). Default [DefaultQuantile] (p90).
	Quantile float64
	// Window is how many recent latencies are kept per model and stage.
	// Default [DefaultWindow].
	Window int
	// MinSamples is how many latencies a model and stage need before its
	// calls are hedged. Default [DefaultMinSamples].
	MinSamples int
	// MedianMultiple makes the delay adaptive: a call is also hedged once
	// it has run MedianMultiple times the median answer time of the
	// other calls of its consultation and stage ([provider.MetaConsultationID]
	// and [provider.MetaStage]), as soon as half of them have answered,
	// if that comes before the model's quantile. So a model that is slow
	// in one consultation is hedged at a time the consultation's own pace
	// sets, without waiting for its history, and even before it has any.
	// Default [DefaultMedianMultiple]; a negative value hedges at the
	// quantile only.
	MedianMultiple float64
}

// Hedger sends a second copy of a slow call to a backup model and keeps
// whichever answers first, as gRPC's hedging policy does for RPCs (gRFC A6).
//
// It learns each model's latency per stage ([provider.MetaStage]) from the calls
// that go through it. Once a model and stage have MinSamples latencies, a
// call that has not returned by their Quantile (p90 by default) is sent
// again, unchanged but for the model, to the model's backup, with
// [MetaOf] set on the copy. The delay is adaptive: it is the earlier of
// that quantile and MedianMultiple (2 by default) times the median answer
// time of the calls of the same consultation and stage, known once half of
// them have answered (see [Config.MedianMultiple]); calls of models
// without a backup count towards that median too. The first successful answer wins and the
// other call is cancelled; the interceptor returns once that call has
// ended, and the winner's Attempts counts both calls. When both fail, the
// original call's error is returned. A call that fails
// before its hedge is due is not hedged: retrying failures is left to a
// retry interceptor.
//
// Calls with an OnDelta callback are never hedged, since one callback
// cannot take two streams; in a council that is the chairman's synthesis,
// while every council model's answer and ranking can be.
//
// A successful call adds its latency to its model's window; a call
// cancelled because the other answered first adds the time it ran, a lower
// bound of its latency. Failures add nothing.
//
// Each hedged call costs a second upstream call, so a p90 delay sends about
// one call in ten twice. Place the interceptor outside the retry, limiter
// and telemetry interceptors, so that each of the two calls is retried,
// limited and traced (with its own model) on its own.
//
// A Hedger is safe for concurrent use; calls share nothing but the latency
// window of their model and stage.
type Hedger struct {
	cfg     Config
	windows sync.Map // windowKey → *latencyWindow
	groups  sync.Map // groupKey → *stageGroup
}

// New returns a Hedger configured by cfg.
func New(cfg Config) *Hedger {
	if cfg.Quantile <= 0 || cfg.Quantile >= 1 {
		cfg.Quantile = DefaultQuantile
	}
	if cfg.Window <= 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.MinSamples <= 0 {
		cfg.MinSamples = DefaultMinSamples
	}
	cfg.MinSamples = min(cfg.MinSamples, cfg.Window)
	if cfg.MedianMultiple == 0 {
		cfg.MedianMultiple = DefaultMedianMultiple
	}
	backups := make(map[string]string, len(cfg.Backups))
	for m, b := range cfg.Backups {
		if m != "" && b != "" {
			backups[m] = b
		}
	}
	cfg.Backups = backups
	return &Hedger{cfg: cfg}
}

// Interceptor returns the interceptor that hedges calls.
func (h *Hedger) Interceptor() provider.Interceptor { return h.intercept }

// Delay returns how long a call to model in stage (the [provider.MetaStage] value)
// runs before it is hedged, and false when such calls are not hedged yet
// (no backup, or too few latencies observed).
func (h *Hedger) Delay(model, stage string) (time.Duration, bool) {
	if _, ok := h.cfg.Backups[model]; !ok {
		return 0, false
	}
	if w, ok := h.windows.Load(windowKey{model, stage}); ok {
		return w.(*latencyWindow).delay()
	}
	return 0, false
}

// hedgeResult is the outcome of one of the two calls of a hedged call.
type hedgeResult struct {
	backup  bool
	resp    *provider.Response
	err     error
	elapsed time.Duration
}

func (h *Hedger) intercept(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
	if req.OnDelta != nil {
		return next.Complete(ctx, req)
	}
	stage := req.Metadata[provider.MetaStage]
	g := h.join(req.Metadata[provider.MetaConsultationID], stage)
	began := time.Now()
	ok := false
	if g != nil {
		// Deferred so that a panic further down still leaves the group,
		// which would otherwise stay in the map.
		defer func() { g.leave(ok, time.Since(began)) }()
	}
	resp, err := h.hedged(ctx, req, next, stage, g, began)
	ok = err == nil
	return resp, err
}

// hedged runs one call, hedging it when it has a backup and a delay is
// known; g is the call's consultation stage group, nil when not tracked.
func (h *Hedger) hedged(ctx context.Context, req *provider.Request, next provider.Completer, stage string, g *stageGroup, began time.Time) (*provider.Response, error) {
	backup, ok := h.cfg.Backups[req.Model]
	if !ok {
		return next.Complete(ctx, req)
	}
	delay, armed := h.Delay(req.Model, stage)
	var median <-chan struct{}
	if g != nil {
		if d, known := g.delay(h.cfg.MedianMultiple); known && (!armed || d < delay) {
			delay, armed = d, true
		} else if !known {
			median = g.known
		}
	}
	if !armed && median == nil {
		resp, err := next.Complete(ctx, req)
		if err == nil {
			h.observe(req.Model, stage, time.Since(began))
		}
		return resp, err
	}

	results := make(chan hedgeResult, 2)
	primaryCtx, cancelPrimary := context.WithCancel(ctx)
	defer cancelPrimary()
	go h.call(primaryCtx, req, next, false, results)

	// timer fires once delay has passed since the call began, at once
	// when that is past; nil while no delay is known.
	var timer *time.Timer
	var fire <-chan time.Time
	arm := func() {
		if timer != nil {
			timer.Stop()
		}
		timer = time.NewTimer(delay - time.Since(began))
		fire = timer.C
	}
	if armed {
		arm()
	}
	var first hedgeResult
	hedge := false
	for waiting := true; waiting; {
		select {
		case first = <-results:
			waiting = false
		case <-ctx.Done():
			first = <-results
			waiting = false
		case <-fire:
			hedge, waiting = true, false
		case <-median:
			// Half of the stage has answered: hedge at the multiple of
			// its median if that comes before the quantile.
			median = nil
			if d, _ := g.delay(h.cfg.MedianMultiple); !armed || d < delay {
				delay, armed = d, true
				arm()
			}
		}
	}
	if timer != nil {
		timer.Stop()
	}
	if !hedge {
		h.settle(req.Model, stage, first, false)
		return first.resp, first.err
	}

	breq := req.Clone()
	breq.Model = backup
	if breq.Metadata == nil {
		breq.Metadata = make(map[string]string, 1)
	}
	breq.Metadata[MetaOf] = req.Model
	backupCtx, cancelBackup := context.WithCancel(ctx)
	defer cancelBackup()
	go h.call(backupCtx, breq, next, true, results)

	first = <-results
	if first.err == nil {
		// The first answer wins; the other call is no longer needed.
		cancelPrimary()
		cancelBackup()
	}
	second := <-results
	winner, loser := first, second
	if first.err != nil && (second.err == nil || first.backup) {
		winner, loser = second, first
	}
	h.settle(modelOf(winner, req.Model, backup), stage, winner, false)
	h.settle(modelOf(loser, req.Model, backup), stage, loser, winner.err == nil)
	n := attemptsOf(winner) + attemptsOf(loser)
	if winner.err != nil {
		pe := *provider.AsError(winner.err)
		pe.Attempts = n
		return nil, &pe
	}
	resp := *winner.resp
	resp.Attempts = n
	return &resp, nil
}

// call runs one of the two calls and sends its outcome; a panic in next
// becomes an error, since no caller up the stack can recover it here.
func (h *Hedger) call(ctx context.Context, req *provider.Request, next provider.Completer, backup bool, out chan<- hedgeResult) {
	began := time.Now()
	res := hedgeResult{backup: backup}
	defer func() {
		if v := recover(); v != nil {
			res.resp, res.err = nil, &provider.Error{Kind: provider.KindUnknown, Message: "internal error in model call", Err: fmt.Errorf("panic: %v", v)}
		}
		res.elapsed = time.Since(began)
		out <- res
	}()
	res.resp, res.err = next.Complete(ctx, req)
}

// settle adds a finished call's latency to its window: a success's, or the
// run time of a call cancelled because the other one won.
func (h *Hedger) settle(model, stage string, r hedgeResult, lost bool) {
	if r.err == nil || lost {
		h.observe(model, stage, r.elapsed)
	}
}

// observe adds one latency to the window of model and stage.
func (h *Hedger) observe(model, stage string, d time.Duration) {
	k := windowKey{model, stage}
	w, ok := h.windows.Load(k)
	if !ok {
		w, _ = h.windows.LoadOrStore(k, newLatencyWindow(h.cfg.Window, h.cfg.MinSamples, h.cfg.Quantile))
	}
	w.(*latencyWindow).add(d)
}

// modelOf returns the model a result's call went to.
func modelOf(r hedgeResult, primary, backup string) string {
	if r.backup {
		return backup
	}
	return primary
}

// attemptsOf returns the upstream attempts a result's call made.
func attemptsOf(r hedgeResult) int {
	n := 0
	if r.resp != nil {
		n = r.resp.Attempts
	} else if pe := provider.AsError(r.err); pe != nil {
		n = pe.Attempts
	}
	return max(n, 1)
}

// join adds a call to the group of its consultation and stage and returns
// the group; nil when the call names no consultation or the adaptive delay
// is off.
func (h *Hedger) join(consultation, stage string) *stageGroup {
	if consultation == "" || h.cfg.MedianMultiple < 0 {
		return nil
	}
	k := groupKey{consultation, stage}
	for {
		v, ok := h.groups.Load(k)
		if !ok {
			fresh := &stageGroup{known: make(chan struct{})}
			fresh.drop = func() { h.groups.CompareAndDelete(k, fresh) }
			v, _ = h.groups.LoadOrStore(k, fresh)
		}
		g := v.(*stageGroup)
		g.mu.Lock()
		if g.done {
			// The group emptied and is leaving the map as this call
			// found it.
			g.mu.Unlock()
			continue
		}
		g.started++
		g.active++
		g.mu.Unlock()
		return g
	}
}

// groupKey names the calls of one consultation's stage.
type groupKey struct{ consultation, stage string }

// stageGroup tracks the calls of one consultation's stage in flight
// together: how many started and the answer times of those that
// succeeded. It leaves the Hedger's map once no call of it is running.
type stageGroup struct {
	mu       sync.Mutex
	started  int
	active   int
	answered []time.Duration // ascending
	median   time.Duration
	// known is closed once half of the started calls have answered.
	known chan struct{}
	// done is set when the last call left; drop removes the group from
	// the Hedger's map.
	done bool
	drop func()
}

// leave records the end of one call of the group, with its answer time
// when it succeeded.
func (g *stageGroup) leave(ok bool, d time.Duration) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.active--
	if ok {
		i, _ := slices.BinarySearch(g.answered, d)
		g.answered = slices.Insert(g.answered, i, d)
		half := (g.started + 1) / 2
		if len(g.answered) >= half && !isClosed(g.known) {
			g.median = g.answered[half-1]
			close(g.known)
		}
	}
	if g.active == 0 {
		g.done = true
		g.drop()
	}
}

// delay returns multiple times the group's median answer time and whether
// it is known yet.
func (g *stageGroup) delay(multiple float64) (time.Duration, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !isClosed(g.known) {
		return 0, false
	}
	return time.Duration(multiple * float64(g.median)), true
}

// isClosed reports whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// windowKey names a latency window.
type windowKey struct{ model, stage string }

// latencyWindow keeps the latest latencies of one model and stage in a
// ring and the quantile of them that is the hedging delay.
type latencyWindow struct {
	mu         sync.Mutex
	ring       []time.Duration
	next       int
	full       bool
	minSamples int
	quantile   float64
	current    time.Duration
	sorted     []time.Duration // scratch space for the quantile
}

func newLatencyWindow(size, minSamples int, quantile float64) *latencyWindow {
	return &latencyWindow{
		ring:       make([]time.Duration, size),
		sorted:     make([]time.Duration, 0, size),
		minSamples: minSamples,
		quantile:   quantile,
	}
}

// add records d and recomputes the delay.
func (w *latencyWindow) add(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ring[w.next] = d
	w.next = (w.next + 1) % len(w.ring)
	w.full = w.full || w.next == 0
	n := w.count()
	if n < w.minSamples {
		return
	}
	w.sorted = append(w.sorted[:0], w.ring[:n]...)
	slices.Sort(w.sorted)
	w.current = quantile.Sorted(w.sorted, 100*w.quantile)
}

// delay returns the current delay and whether there are enough samples.
func (w *latencyWindow) delay() (time.Duration, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.current, w.count() >= w.minSamples
}

// count returns how many latencies the ring holds; w.mu is held.
func (w *latencyWindow) count() int {
	if w.full {
		return len(w.ring)
	}
	return w.next
}
