package orchestrator

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"

	"github.com/councilhq/council/provider"
)

// synthesize runs Stage 3: the chairman (then the fallback chairman, if it
// fails) writes the final answer, streamed as deltas. Late rankings are
// emitted as they arrive; reviews still out when the answer is done are
// cancelled and reported.
func (r *run) synthesize(ctx context.Context, answers []answer, rv *reviewing) error {
	began := time.Now()
	chairs := []string{r.p.chairman}
	if fb := r.fallbackChairman(answers, rv.aggregate); fb != "" {
		chairs = append(chairs, fb)
	}
	ctx, span, err := r.startStage(ctx, StageSynthesize, chairs[:1])
	if err != nil {
		return err
	}
	prompt := chairmanPrompt(r.p, answers, rv.ballots, rv.aggregate)
	msgs := []provider.Message{{Role: provider.RoleUser, Content: prompt}}

	ok, failed := 0, 0
	for i, chair := range chairs {
		if i > 0 && r.p.maxCost > 0 {
			fits, err := r.capFallback(chair, msgs)
			if err != nil {
				failSpan(span, err)
				return err
			}
			if !fits {
				break
			}
		}
		res, err := r.chair(ctx, chair, msgs, rv)
		if err != nil {
			failSpan(span, err)
			return err
		}
		r.record(StageSynthesize, res)
		if res.err != nil {
			failed++
			if err := r.failed(StageSynthesize, res); err != nil {
				failSpan(span, err)
				return err
			}
			continue
		}
		ok++
		if i > 0 {
			r.degrade(DegradedFallbackChairman)
		}
		if err := r.send(&FinalAnswer{
			Model:    chair,
			Content:  res.resp.Content,
			Latency:  res.latency,
			Usage:    res.resp.Usage,
			Fallback: i > 0,
		}); err != nil {
			failSpan(span, err)
			return err
		}
		break
	}
	if ok == 0 {
		err := fmt.Errorf("%w: %d chairman calls failed", ErrNoSynthesis, failed)
		span.SetStatus(codes.Error, err.Error())
		_ = r.endStage(span, StageSynthesize, began, ok, failed)
		return err
	}
	if err := r.finishReviews(ctx, rv); err != nil {
		failSpan(span, err)
		return err
	}
	if err := r.finishStragglers(ctx); err != nil {
		failSpan(span, err)
		return err
	}
	return r.endStage(span, StageSynthesize, began, ok, failed)
}

// chair runs one chairman call, emitting its deltas, gathered by the
// consultation's flush window, and any late rankings and answers until
// the call ends. It fails only when ctx ends or an emit fails.
func (r *run) chair(ctx context.Context, model string, msgs []provider.Message, rv *reviewing) (callResult, error) {
	ended := make(chan callResult, 1)
	req := r.request(StageSynthesize, model, msgs, r.c.cfg.SynthesisMaxTokens)
	est := r.c.callEstimate(model, msgs, r.c.cfg.SynthesisMaxTokens)
	r.launch(est)
	woken := make(chan struct{}, 1)
	text := newDeltaGate(r.p.flushWindow, woken)
	req.OnDelta = text.add
	r.goCall(func() { ended <- r.call(ctx, 0, req, r.c.cfg.SynthesizeTimeout, est) })
	var timer flushTimer
	defer timer.stop()
	send := func(pieces []string) error {
		for _, piece := range pieces {
			if err := r.send(&SynthesisDelta{Model: model, Text: piece}); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		lateOut := rv.out
		if rv.pending == 0 {
			lateOut = nil
		}
		select {
		case res := <-ended:
			// The call's goroutine gave every delta before its result.
			if err := send(text.flush(time.Now())); err != nil {
				return callResult{}, err
			}
			return res, nil
		case <-woken:
			pieces, due := text.pending()
			if err := send(pieces); err != nil {
				return callResult{}, err
			}
			if !due.IsZero() {
				timer.arm(due)
			}
		case <-timer.C():
			timer.fired()
			if err := send(text.flush(time.Now())); err != nil {
				return callResult{}, err
			}
		case res := <-lateOut:
			rv.pending--
			if err := r.reviewed(rv, res, true); err != nil {
				return callResult{}, err
			}
		case m := <-r.stage1.messages():
			if err := r.straggled(m); err != nil {
				return callResult{}, err
			}
		case <-r.stage1.woken():
			if err := r.stage1.flushReady(r); err != nil {
				return callResult{}, err
			}
		case <-r.stage1.timer.C():
			if err := r.stage1.flushDue(r); err != nil {
				return callResult{}, err
			}
		case <-ctx.Done():
			return callResult{}, ctx.Err()
		}
	}
}

// capFallback decides whether the fallback chairman's estimate fits in
// what the cap leaves, and reports the decision.
func (r *run) capFallback(chair string, msgs []provider.Message) (bool, error) {
	spent := r.spent + r.running
	est := r.c.callEstimate(chair, msgs, r.c.cfg.SynthesisMaxTokens)
	fits := spent+est <= r.p.maxCost
	ev := &BudgetApplied{Stage: StageSynthesize, MaxCostUSD: r.p.maxCost, SpentUSD: spent, EstimatedCostUSD: est, PlannedChairman: chair}
	if !fits {
		ev.EstimatedCostUSD, ev.FallbackSkipped = 0, true
		r.degrade(DegradedBudget)
	}
	return fits, r.send(ev)
}

// finishReviews cancels the reviews still out and reports each: a ranking
// that raced the cancellation is emitted late, the rest as cancelled.
func (r *run) finishReviews(ctx context.Context, rv *reviewing) error {
	if rv.cancel != nil { // nil when Stage 2 was skipped
		rv.cancel()
	}
	for ; rv.pending > 0; rv.pending-- {
		var res callResult
		select {
		case res = <-rv.out:
		case <-ctx.Done():
			return ctx.Err()
		}
		if res.err != nil {
			res.err = &provider.Error{Kind: provider.KindCanceled, Message: "not needed: the final answer was ready first", Attempts: res.err.Attempts}
		}
		if err := r.reviewed(rv, res, true); err != nil {
			return err
		}
	}
	return nil
}

// fallbackChairman picks who writes the answer if the chairman fails: the
// configured fallback, else the best-ranked answering model that is not
// the chairman, else none.
func (r *run) fallbackChairman(answers []answer, agg []AggregateEntry) string {
	if fb := r.c.cfg.FallbackChairman; fb != "" && fb != r.p.chairman {
		return fb
	}
	for _, e := range agg {
		if e.Model != r.p.chairman {
			return e.Model
		}
	}
	for _, a := range answers {
		if a.model != r.p.chairman {
			return a.model
		}
	}
	return ""
}
