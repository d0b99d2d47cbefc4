package orchestrator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/outbound/deadline"
	"github.com/councilhq/council/provider"
)

// run is the state of one consultation. Only the goroutine running Consult
// touches it, except wg.
type run struct {
	c    *Council
	p    plan
	id   string
	emit func(Event) error

	seq            uint64
	stage          Stage
	start          time.Time
	stageDurations map[Stage]time.Duration
	calls          []CallSummary
	usage          provider.Usage
	degraded       bool
	reasons        []DegradedReason
	excluded       []string
	stage1         collecting // Stage 1's calls, some still out after a straggler cut-off
	cutModels      []string   // council models left out by the straggler cut-off

	// Cost accounting in US dollars: spent is the actual cost of finished
	// calls, running the estimates of calls in flight, estimated the sum
	// of the estimates of every call made.
	spent, running, estimated float64

	wg sync.WaitGroup // model-call goroutines
}

// answer is one Stage 1 answer.
type answer struct {
	model   string
	content string
}

// callResult is the outcome of one model call.
type callResult struct {
	index    int
	model    string
	resp     *provider.Response
	err      *provider.Error
	latency  time.Duration
	estimate float64 // the call's estimated cost
}

// execute runs the three stages. Every goroutine it starts has ended when
// it returns.
func (r *run) execute(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer r.wg.Wait()
	defer cancel()

	if err := r.send(&ConsultStarted{
		RequestID: r.p.requestID,
		Tier:      r.p.tier,
		Council:   append([]string(nil), r.p.council...),
		Chairman:  r.p.chairman,
	}); err != nil {
		return err
	}
	if r.p.maxCost > 0 {
		if err := r.send(&BudgetApplied{
			Stage:            StageCollect,
			MaxCostUSD:       r.p.maxCost,
			EstimatedCostUSD: r.p.minimumCost,
		}); err != nil {
			return err
		}
	}
	answers, err := r.collect(ctx)
	if err != nil {
		return err
	}
	reviewers, skipped := r.reviewers(answers), false
	if r.p.maxCost > 0 {
		if reviewers, skipped, err = r.capReview(answers); err != nil {
			return err
		}
	}
	rv := &reviewing{}
	if !skipped {
		if rv, err = r.review(ctx, answers, reviewers); err != nil {
			return err
		}
	}
	if err := r.synthesize(ctx, answers, rv); err != nil {
		return err
	}
	done := &ConsultCompleted{
		Duration:         time.Since(r.start),
		StageDurations:   r.stageDurations,
		Degraded:         r.degraded,
		Reasons:          r.reasons,
		Excluded:         r.excluded,
		Usage:            r.usage,
		EstimatedCostUSD: r.estimated,
	}
	if r.p.maxCost > 0 {
		done.CapOvershootUSD = max(0, r.spent-r.p.maxCost)
	}
	return r.send(done)
}

// reviewers returns who reviews without a cap: every model that answered,
// when there are at least two.
func (r *run) reviewers(answers []answer) []string {
	if len(answers) < 2 {
		return nil
	}
	out := make([]string, len(answers))
	for i, a := range answers {
		out[i] = a.model
	}
	return out
}

// capReview plans Stage 2 and the chairman within what the cap leaves,
// reports the decision and returns the reviewers and whether Stage 2 is
// skipped.
func (r *run) capReview(answers []answer) ([]string, bool, error) {
	spent := r.spent + r.running
	rp := r.c.planReview(r.p, answers, r.p.maxCost-spent)
	ev := &BudgetApplied{
		Stage:            StageReview,
		MaxCostUSD:       r.p.maxCost,
		SpentUSD:         spent,
		EstimatedCostUSD: rp.estimate,
		DroppedReviewers: rp.dropped,
		PlannedChairman:  r.p.chairman,
		ReviewSkipped:    len(rp.reviewers) == 0 && len(answers) > 1,
	}
	if rp.chairman != r.p.chairman {
		ev.Chairman = rp.chairman
		r.p.chairman = rp.chairman
	}
	if len(ev.DroppedReviewers) > 0 || ev.Chairman != "" || ev.ReviewSkipped {
		r.degrade(DegradedBudget)
	}
	return rp.reviewers, ev.ReviewSkipped, r.send(ev)
}

// launch accounts for a call about to start with the given estimate.
func (r *run) launch(estimate float64) {
	r.running += estimate
	r.estimated += estimate
}

// degrade marks the consultation degraded for reason.
func (r *run) degrade(reason DegradedReason) {
	r.degraded = true
	if !slices.Contains(r.reasons, reason) {
		r.reasons = append(r.reasons, reason)
	}
}

// send emits one event with the next sequence number.
func (r *run) send(payload any) error {
	r.seq++
	return r.emit(Event{
		Sequence:       r.seq,
		ConsultationID: r.id,
		Stage:          r.stage,
		Time:           time.Now(),
		Payload:        payload,
	})
}

// request builds a model request tagged with the consultation's metadata.
func (r *run) request(s Stage, model string, msgs []provider.Message, maxTokens int) *provider.Request {
	return &provider.Request{
		Model:     model,
		Messages:  msgs,
		MaxTokens: maxTokens,
		Metadata: map[string]string{
			provider.MetaConsultationID: r.id,
			provider.MetaStage:          s.String(),
			provider.MetaTier:           r.p.tier,
		},
	}
}

// goCall runs fn on a goroutine owned by the run.
func (r *run) goCall(fn func()) {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		fn()
	}()
}

// call performs one model call under its own timeout and classifies the
// outcome; a panic in the completer becomes a failure.
func (r *run) call(ctx context.Context, index int, req *provider.Request, timeout time.Duration, estimate float64) (res callResult) {
	res = callResult{index: index, model: req.Model, estimate: estimate}
	began := time.Now()
	defer func() {
		if v := recover(); v != nil {
			r.c.opts.logger.ErrorContext(ctx, "model call panicked", "model", req.Model, "consultation_id", r.id)
			res.resp, res.err = nil, &provider.Error{Kind: provider.KindUnknown, Message: "internal error in model call", Err: fmt.Errorf("panic: %v", v)}
		}
		res.latency = time.Since(began)
	}()
	resp, err := deadline.New(timeout)(ctx, req, r.c.completer)
	if err == nil && (resp == nil || strings.TrimSpace(resp.Content) == "") {
		err = &provider.Error{Kind: provider.KindEmpty, Message: "model returned no content"}
	}
	if err != nil {
		return callResult{index: index, model: req.Model, err: provider.AsError(err), estimate: estimate}
	}
	res.resp = resp
	return res
}

// record notes a finished call for the summary and the totals. A
// successful call's usage gets its actual cost: the provider's, or its
// tokens at the model's price.
func (r *run) record(s Stage, res callResult) {
	r.running -= res.estimate
	cs := CallSummary{Stage: s, Model: res.model, Latency: res.latency, OK: res.err == nil, EstimateUSD: res.estimate}
	if res.err != nil {
		cs.Reason = reasonOf(res.err)
	} else {
		res.resp.Usage.Cost = cost.Actual(r.c.price(res.model), res.resp.Usage)
		cs.CostUSD = res.resp.Usage.Cost
		r.spent += cs.CostUSD
		r.usage = r.usage.Add(res.resp.Usage)
	}
	r.calls = append(r.calls, cs)
}

// failed emits the ModelFailed event for a failed call.
func (r *run) failed(s Stage, res callResult) error {
	return r.send(&ModelFailed{
		Stage:    s,
		Model:    res.model,
		Reason:   reasonOf(res.err),
		Message:  res.err.Message,
		Attempts: attempts(res.err.Attempts),
		Latency:  res.latency,
	})
}

// attempts turns an Attempts field (0 meaning one) into a count.
func attempts(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// reasonOf maps a provider failure to the reason reported to callers.
func reasonOf(e *provider.Error) FailureReason {
	switch e.Kind {
	case provider.KindTimeout:
		return ReasonTimeout
	case provider.KindRateLimited, provider.KindLimited:
		return ReasonRateLimited
	case provider.KindQuota:
		return ReasonQuota
	case provider.KindAuth:
		return ReasonAuth
	case provider.KindCooldown:
		return ReasonCooldown
	case provider.KindCanceled:
		return ReasonCanceled
	case provider.KindMalformed, provider.KindEmpty:
		return ReasonInvalidOutput
	}
	return ReasonUpstreamError
}

// summary describes the finished run for an Observer.
func (r *run) summary(err error) Summary {
	return Summary{
		ConsultationID: r.id,
		Tier:           r.p.tier,
		Start:          r.start,
		Duration:       time.Since(r.start),
		StageDurations: r.stageDurations,
		Calls:          r.calls,
		Degraded:       r.degraded,
		Caller:         r.p.caller,
		Err:            err,
	}
}
