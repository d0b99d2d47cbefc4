package orchestrator

import (
	"context"
	"math"
	"math/rand/v2"
	"time"

	"github.com/councilhq/council/provider"
)

// review is one reviewer's parsed ranking.
type review struct {
	reviewer    string
	labels      []string // labels shown, in presentation order
	labelModels []string // labelModels[i] is the model behind labels[i]
	text        string
	ranking     []string // models, best first
}

// reviewing is Stage 2 in flight: the reviewers still out when synthesis
// starts keep running, and their rankings are emitted late.
type reviewing struct {
	ballots   []review
	aggregate []AggregateEntry
	shown     []review        // by reviewer index: what each was shown
	out       chan callResult // results of outstanding reviews
	pending   int             // reviews not yet received from out
	cancel    context.CancelFunc
}

// review runs Stage 2 with the given reviewers, each ranking every other
// answer, until enough rankings are in (Config.ReviewQuorum of the
// reviewers, or every reviewer has finished), aggregates them and returns
// with the remaining reviews still running.
func (r *run) review(ctx context.Context, answers []answer, reviewers []string) (*reviewing, error) {
	began := time.Now()
	ctx, span, err := r.startStage(ctx, StageReview, reviewers)
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	rv := &reviewing{
		shown:   make([]review, len(reviewers)),
		out:     make(chan callResult, len(reviewers)),
		pending: len(reviewers),
		cancel:  cancel,
	}
	for i, reviewer := range reviewers {
		rv.shown[i] = showAnswers(reviewer, answers)
		prompt := rankingPrompt(r.p.query, rv.shown[i].labels, contentsOf(answers, rv.shown[i].labelModels))
		msgs := []provider.Message{{Role: provider.RoleUser, Content: prompt}}
		req := r.request(StageReview, reviewer, msgs, r.c.cfg.RankingMaxTokens)
		est := r.c.callEstimate(reviewer, msgs, r.c.cfg.RankingMaxTokens)
		r.launch(est)
		r.goCall(func() { rv.out <- r.call(rctx, i, req, r.c.cfg.ReviewTimeout, est) })
	}

	needed := int(math.Ceil(r.c.cfg.ReviewQuorum * float64(len(reviewers))))
	ok, failed := 0, 0
	for rv.pending > 0 && len(rv.ballots) < needed {
		var res callResult
		var err error
		select {
		case res = <-rv.out:
		case m := <-r.stage1.messages():
			err = r.straggled(m)
		case <-r.stage1.woken():
			err = r.stage1.flushReady(r)
		case <-r.stage1.timer.C():
			err = r.stage1.flushDue(r)
		case <-ctx.Done():
			err = ctx.Err()
		}
		if err != nil {
			failSpan(span, err)
			return nil, err
		}
		if res.model == "" {
			continue // a late Stage 1 message
		}
		rv.pending--
		if res.err == nil {
			ok++
		} else {
			failed++
			r.degrade(DegradedModelFailed)
		}
		if err := r.reviewed(rv, res, false); err != nil {
			failSpan(span, err)
			return nil, err
		}
	}

	ballots := make([]Ballot, len(rv.ballots))
	for i, b := range rv.ballots {
		ballots[i] = Ballot{Reviewer: b.reviewer, Candidates: b.labelModels, Ranking: b.ranking}
	}
	models := make([]string, len(answers))
	for i, a := range answers {
		models[i] = a.model
	}
	rv.aggregate = Aggregate(ballots, models)
	if err := r.send(&RankingsAggregated{Entries: rv.aggregate, Reviewers: len(rv.ballots)}); err != nil {
		failSpan(span, err)
		return nil, err
	}
	return rv, r.endStage(span, StageReview, began, ok, failed)
}

// reviewed handles one finished review: a ModelRanked event (and a ballot
// when it is on time and could be parsed) or a ModelFailed event.
func (r *run) reviewed(rv *reviewing, res callResult, late bool) error {
	r.record(StageReview, res)
	if res.err != nil {
		return r.failed(StageReview, res)
	}
	b := rv.shown[res.index]
	b.text = res.resp.Content
	byLabel := make(map[string]string, len(b.labels))
	for i, l := range b.labels {
		byLabel[l] = b.labelModels[i]
	}
	for _, l := range ParseRanking(b.text, b.labels) {
		b.ranking = append(b.ranking, byLabel[l])
	}
	if !late && len(b.ranking) > 0 {
		rv.ballots = append(rv.ballots, b)
	}
	return r.send(&ModelRanked{
		Reviewer: b.reviewer,
		RawText:  b.text,
		Ranking:  b.ranking,
		Labels:   byLabel,
		Latency:  res.latency,
		Usage:    res.resp.Usage,
		Attempts: attempts(res.resp.Attempts),
		Late:     late,
	})
}

// showAnswers picks what a reviewer sees: every other model's answer, in
// a fresh random order, labelled Response A, B, …
func showAnswers(reviewer string, answers []answer) review {
	models := make([]string, 0, len(answers)-1)
	for _, a := range answers {
		if a.model != reviewer {
			models = append(models, a.model)
		}
	}
	rand.Shuffle(len(models), func(i, j int) { models[i], models[j] = models[j], models[i] })
	labels := make([]string, len(models))
	for i := range models {
		labels[i] = label(i)
	}
	return review{reviewer: reviewer, labels: labels, labelModels: models}
}

// contentsOf returns the answers of models, in that order.
func contentsOf(answers []answer, models []string) []string {
	byModel := make(map[string]string, len(answers))
	for _, a := range answers {
		byModel[a.model] = a.content
	}
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = byModel[m]
	}
	return out
}
