package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/councilhq/council/provider"
)

// collecting is Stage 1 in flight: the council's calls, the deltas of
// their answers when the request streams them, and, once the straggler
// cut-off has ended the stage, the calls still out, whose answers are
// emitted late until the final answer is complete.
type collecting struct {
	msgs    chan collectMsg
	pending int                // calls whose result has not been received
	models  []string           // by council index
	text    []*deltaGate       // by council index, when answers are streamed
	wake    chan struct{}      // signalled by text's gates
	timer   flushTimer         // the earliest of text's flushes
	cancel  context.CancelFunc // cancels the calls still out
}

// collectMsg is the result of one council model's call.
type collectMsg struct {
	index  int
	result *callResult
}

// messages returns the channel of the calls still out, nil when none is.
func (c *collecting) messages() <-chan collectMsg {
	if c.pending == 0 {
		return nil
	}
	return c.msgs
}

// woken returns the channel the streamed answers' gates signal, nil when
// answers are not streamed or no call is out.
func (c *collecting) woken() <-chan struct{} {
	if c.pending == 0 {
		return nil
	}
	return c.wake
}

// collect runs Stage 1: every council model answers in parallel and each
// answer or failure is emitted as it arrives, with the answers' deltas
// before them when the request streams them. The stage ends when every
// model has answered or failed, or when the straggler cut-off (see
// [StragglerCutoff]) leaves the slowest out. The answers come back in
// council order.
func (r *run) collect(ctx context.Context) ([]answer, error) {
	began := time.Now()
	models := r.p.council
	ctx, span, err := r.startStage(ctx, StageCollect, models)
	if err != nil {
		return nil, err
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &r.stage1
	*c = collecting{
		msgs:    make(chan collectMsg, len(models)),
		pending: len(models),
		models:  models,
		cancel:  cancel,
	}
	if r.p.streamAnswers {
		c.wake = make(chan struct{}, 1)
		c.text = make([]*deltaGate, len(models))
		for i := range c.text {
			c.text[i] = newDeltaGate(r.p.flushWindow, c.wake)
		}
	}
	msgs := answerMessages(r.p)
	for i, m := range models {
		req := r.request(StageCollect, m, msgs, r.c.cfg.AnswerMaxTokens)
		if r.p.streamAnswers {
			req.OnDelta = c.text[i].add
		}
		est := r.c.callEstimate(m, msgs, r.c.cfg.AnswerMaxTokens)
		r.launch(est)
		r.goCall(func() {
			res := r.call(cctx, i, req, r.c.cfg.CollectTimeout, est)
			// Sent even after the call was cancelled, since
			// finishStragglers waits for it; only the end of the
			// consultation drops it.
			select {
			case c.msgs <- collectMsg{index: i, result: &res}:
			case <-ctx.Done():
			}
		})
	}

	got := make([]*answer, len(models))
	var latencies []time.Duration // of the answers, in arrival order
	var quorumAt time.Time
	var cut *time.Timer
	defer func() {
		if cut != nil {
			cut.Stop()
		}
	}()
	var cutC <-chan time.Time
	ok, failed := 0, 0
	for c.pending > 0 && len(r.cutModels) == 0 {
		select {
		case m := <-c.msgs:
			c.pending--
			res := *m.result
			if err := r.answered(res, false); err != nil {
				failSpan(span, err)
				return nil, err
			}
			if res.err != nil {
				failed++
				continue
			}
			ok++
			got[res.index] = &answer{model: res.model, content: res.resp.Content}
			latencies = append(latencies, res.latency)
			if wait, on := r.p.straggler.wait(latencies); on && ok >= r.c.cfg.MinAnswers && c.pending > 0 && quorumAt.IsZero() {
				// The quorum is in: the rest get one deadline, set now.
				quorumAt = time.Now()
				cut = time.NewTimer(wait)
				cutC = cut.C
			}
			continue
		case <-c.woken():
			err = c.flushReady(r)
		case <-c.timer.C():
			err = c.flushDue(r)
		case <-cutC:
			err = r.cutStragglers(time.Since(quorumAt))
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			failSpan(span, err)
			return nil, err
		}
	}
	if c.pending == 0 {
		cancel()
	}
	var quorumErr error
	if ok < r.c.cfg.MinAnswers {
		quorumErr = fmt.Errorf("%w: %d of %d answered, %d needed", ErrQuorumNotMet, ok, len(models), r.c.cfg.MinAnswers)
		span.SetStatus(codes.Error, quorumErr.Error())
	}
	if err := r.endStage(span, StageCollect, began, ok, failed); err != nil {
		return nil, err
	}
	if quorumErr != nil {
		return nil, quorumErr
	}
	answers := make([]answer, 0, ok)
	for _, a := range got {
		if a != nil {
			answers = append(answers, *a)
		}
	}
	return answers, nil
}

// answered handles one finished Stage 1 call: the rest of its streamed
// text, then a ModelAnswered event, late after a cut-off, or a ModelFailed
// event.
func (r *run) answered(res callResult, late bool) error {
	c := &r.stage1
	r.record(StageCollect, res)
	if c.text != nil {
		// A failed call's partial text goes out too, before its failure.
		// The call's goroutine gave every delta before its result.
		if err := r.sendAnswerText(res.index, c.text[res.index].flush(time.Now())); err != nil {
			return err
		}
	}
	if res.err != nil {
		if !late {
			r.degrade(DegradedModelFailed)
			r.excluded = append(r.excluded, res.model)
		}
		return r.failed(StageCollect, res)
	}
	return r.send(&ModelAnswered{
		Model:    res.model,
		Content:  res.resp.Content,
		Latency:  res.latency,
		Usage:    res.resp.Usage,
		Attempts: attempts(res.resp.Attempts),
		Late:     late,
	})
}

// sendAnswerText emits the gathered pieces of a council model's answer.
func (r *run) sendAnswerText(index int, pieces []string) error {
	for _, piece := range pieces {
		if err := r.send(&AnswerDelta{Model: r.stage1.models[index], Text: piece}); err != nil {
			return err
		}
	}
	return nil
}

// flushReady sends the streamed answers' pieces that are ready and sets
// the timer for the text that waits; it is called when a gate signals.
func (c *collecting) flushReady(r *run) error {
	for i, g := range c.text {
		pieces, due := g.pending()
		if err := r.sendAnswerText(i, pieces); err != nil {
			return err
		}
		if !due.IsZero() {
			c.timer.arm(due)
		}
	}
	return nil
}

// flushDue sends the streamed answers' text whose window has passed and
// sets the timer for the next; it is called when the timer fires.
func (c *collecting) flushDue(r *run) error {
	c.timer.fired()
	now := time.Now()
	var next time.Time
	for i, g := range c.text {
		pieces, due := g.pending()
		if err := r.sendAnswerText(i, pieces); err != nil {
			return err
		}
		switch {
		case due.IsZero():
		case due.After(now):
			if next.IsZero() || due.Before(next) {
				next = due
			}
		default:
			if err := r.sendAnswerText(i, g.flush(now)); err != nil {
				return err
			}
		}
	}
	if !next.IsZero() {
		c.timer.arm(next)
	}
	return nil
}

// cutStragglers ends Stage 1 without the calls still out: it emits
// StragglersCut and marks the consultation degraded. The calls go on; see
// [run.straggled].
func (r *run) cutStragglers(waited time.Duration) error {
	c := &r.stage1
	done := make([]bool, len(c.models))
	for _, cs := range r.calls {
		if cs.Stage == StageCollect {
			if i := slices.Index(c.models, cs.Model); i >= 0 {
				done[i] = true
			}
		}
	}
	for i, m := range c.models {
		if !done[i] {
			r.cutModels = append(r.cutModels, m)
		}
	}
	r.degrade(DegradedStragglerCut)
	r.excluded = append(r.excluded, r.cutModels...)
	return r.send(&StragglersCut{Models: slices.Clone(r.cutModels), Waited: waited})
}

// straggled handles the result of a call left out by the straggler
// cut-off, after Stage 1 ended, emitted late.
func (r *run) straggled(m collectMsg) error {
	r.stage1.pending--
	return r.answered(*m.result, true)
}

// finishStragglers cancels the calls left out by the straggler cut-off
// that are still out once the final answer is complete, and reports each:
// an answer that raced the cancellation is emitted late, the rest as
// cancelled.
func (r *run) finishStragglers(ctx context.Context) error {
	c := &r.stage1
	if c.pending == 0 {
		return nil
	}
	c.cancel()
	for c.pending > 0 {
		var m collectMsg
		select {
		case m = <-c.msgs:
		case <-ctx.Done():
			return ctx.Err()
		}
		if m.result.err != nil {
			m.result.err = &provider.Error{Kind: provider.KindCanceled, Message: "not needed: the final answer was ready first", Attempts: m.result.err.Attempts}
		}
		if err := r.straggled(m); err != nil {
			return err
		}
	}
	c.timer.stop()
	return nil
}
