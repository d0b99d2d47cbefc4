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
	text    []coalescer        // by council index, when answers are streamed
	timer   flushTimer         // the earliest of text's flushes
	cancel  context.CancelFunc // cancels the calls still out
}

// collectMsg is a piece of one council model's answer, or its result.
type collectMsg struct {
	index  int
	delta  string
	result *callResult
}

// messages returns the channel of the calls still out, nil when none is.
func (c *collecting) messages() <-chan collectMsg {
	if c.pending == 0 {
		return nil
	}
	return c.msgs
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
		msgs:    make(chan collectMsg, len(models)*4),
		pending: len(models),
		models:  models,
		cancel:  cancel,
	}
	if r.p.streamAnswers {
		c.text = make([]coalescer, len(models))
		for i := range c.text {
			c.text[i].window = r.p.flushWindow
		}
	}
	msgs := answerMessages(r.p)
	for i, m := range models {
		req := r.request(StageCollect, m, msgs, r.c.cfg.AnswerMaxTokens)
		if r.p.streamAnswers {
			req.OnDelta = func(d string) {
				select {
				case c.msgs <- collectMsg{index: i, delta: d}:
				case <-ctx.Done():
				}
			}
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
			if m.result == nil {
				if err := r.answerDelta(m); err != nil {
					failSpan(span, err)
					return nil, err
				}
				continue
			}
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
		if err := r.sendAnswerText(res.index, c.text[res.index].take(time.Now())); err != nil {
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

// answerDelta gathers a piece of a streamed answer, sending what is due.
func (r *run) answerDelta(m collectMsg) error {
	c := &r.stage1
	t := &c.text[m.index]
	if piece, ok := t.add(time.Now(), m.delta); ok {
		return r.sendAnswerText(m.index, piece)
	}
	if t.waiting() {
		c.timer.arm(t.due())
	}
	return nil
}

// sendAnswerText emits a gathered piece of a council model's answer.
func (r *run) sendAnswerText(index int, piece string) error {
	if piece == "" {
		return nil
	}
	return r.send(&AnswerDelta{Model: r.stage1.models[index], Text: piece})
}

// flushDue sends the streamed answers' text whose window has passed and
// sets the timer for the next; it is called when the timer fires.
func (c *collecting) flushDue(r *run) error {
	c.timer.fired()
	now := time.Now()
	var next time.Time
	for i := range c.text {
		t := &c.text[i]
		if !t.waiting() {
			continue
		}
		if due := t.due(); due.After(now) {
			if next.IsZero() || due.Before(next) {
				next = due
			}
			continue
		}
		if err := r.sendAnswerText(i, t.take(now)); err != nil {
			return err
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

// straggled handles a message of a call left out by the straggler
// cut-off, after Stage 1 ended: a piece of its answer, or its result,
// emitted late.
func (r *run) straggled(m collectMsg) error {
	c := &r.stage1
	if m.result == nil {
		return r.answerDelta(m)
	}
	c.pending--
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
		if m.result != nil && m.result.err != nil {
			m.result.err = &provider.Error{Kind: provider.KindCanceled, Message: "not needed: the final answer was ready first", Attempts: m.result.err.Attempts}
		}
		if err := r.straggled(m); err != nil {
			return err
		}
	}
	c.timer.stop()
	return nil
}
