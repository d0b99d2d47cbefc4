package orchestrator

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
)

// collect runs Stage 1: every council model answers in parallel and each
// answer or failure is emitted as it arrives. The answers come back in
// council order.
func (r *run) collect(ctx context.Context) ([]answer, error) {
	began := time.Now()
	models := r.p.council
	ctx, span, err := r.startStage(ctx, StageCollect, models)
	if err != nil {
		return nil, err
	}
	out := make(chan callResult, len(models))
	msgs := answerMessages(r.p)
	for i, m := range models {
		req := r.request(StageCollect, m, msgs, r.c.cfg.AnswerMaxTokens)
		r.goCall(func() { out <- r.call(ctx, i, req, r.c.cfg.CollectTimeout) })
	}

	got := make([]*answer, len(models))
	ok, failed := 0, 0
	for range models {
		var res callResult
		select {
		case res = <-out:
		case <-ctx.Done():
		}
		if err := ctx.Err(); err != nil {
			failSpan(span, err)
			return nil, err
		}
		r.record(StageCollect, res)
		if res.err != nil {
			failed++
			r.degraded = true
			r.excluded = append(r.excluded, res.model)
			if err := r.failed(StageCollect, res); err != nil {
				failSpan(span, err)
				return nil, err
			}
			continue
		}
		ok++
		got[res.index] = &answer{model: res.model, content: res.resp.Content}
		if err := r.send(&ModelAnswered{
			Model:    res.model,
			Content:  res.resp.Content,
			Latency:  res.latency,
			Usage:    res.resp.Usage,
			Attempts: attempts(res.resp.Attempts),
		}); err != nil {
			failSpan(span, err)
			return nil, err
		}
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
