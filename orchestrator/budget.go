package orchestrator

import (
	"cmp"
	"slices"

	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/provider"
)

// Byte counts that bound the parts of the chairman's prompt a plan cannot
// see yet: per review, its header, labels and parsed ranking beyond the
// reviewer's text; for the aggregate, its heading and lines.
const (
	reviewHeaderBytes    = 100
	reviewPerModelBytes  = 20
	aggregateBytes       = 120
	aggregatePerModelLen = 60
)

// answerBytesPerToken bounds the bytes of a completion token when a plan
// sizes answers it has not seen: tokenizers give about four bytes of
// English per token.
const answerBytesPerToken = 4

// price returns model's price, zero when unknown.
func (c *Council) price(model string) provider.Price {
	if c.opts.prices == nil {
		return provider.Price{}
	}
	p, _ := c.opts.prices.Price(model)
	return p
}

// callEstimate is the most a call to model with msgs and maxTokens costs.
func (c *Council) callEstimate(model string, msgs []provider.Message, maxTokens int) float64 {
	return cost.Estimate(c.price(model), cost.PromptTokens(msgs), maxTokens)
}

// chairTokens estimates the chairman's prompt tokens from the answers and
// the number of reviews it will include, whose texts are bounded by
// Config.RankingMaxTokens.
func (c *Council) chairTokens(p plan, answers []answer, reviews int) int64 {
	n := cost.PromptTokens([]provider.Message{{Role: provider.RoleUser, Content: chairmanPrompt(p, answers, nil, nil)}})
	if reviews == 0 {
		return n
	}
	models := 0
	for _, a := range answers {
		models += len(a.model)
	}
	perReview := int64(c.cfg.RankingMaxTokens) + (int64(reviewHeaderBytes+2*models+reviewPerModelBytes*len(answers))+2)/3
	return n + int64(reviews)*perReview + (int64(aggregateBytes+models+aggregatePerModelLen*len(answers))+2)/3
}

// synthEstimate is the most the chairman's call costs at chairTokens.
func (c *Council) synthEstimate(chair string, promptTokens int64) float64 {
	return cost.Estimate(c.price(chair), promptTokens, c.cfg.SynthesisMaxTokens)
}

// chairs returns who may write the answer under a cap: the planned
// chairman, then the council models, most expensive first for a prompt of
// promptTokens.
func (c *Council) chairs(p plan, promptTokens int64) []string {
	out := []string{p.chairman}
	others := make([]string, 0, len(p.council))
	for _, m := range p.council {
		if m != p.chairman && !slices.Contains(others, m) {
			others = append(others, m)
		}
	}
	slices.SortStableFunc(others, func(a, b string) int {
		return cmp.Compare(c.synthEstimate(b, promptTokens), c.synthEstimate(a, promptTokens))
	})
	return append(out, others...)
}

// worstAnswers stands for Stage 1's answers before they exist: one per
// council model, with an empty text whose tokens minimumCost adds.
func worstAnswers(p plan) []answer {
	out := make([]answer, len(p.council))
	for i, m := range p.council {
		out[i] = answer{model: m}
	}
	return out
}

// minimumCost is the estimate of the cheapest plan: every council model
// answering at its output limit, then the cheapest chairman writing from
// the answers alone.
func (c *Council) minimumCost(p plan) (stage1, minimum float64) {
	msgs := answerMessages(p)
	for _, m := range p.council {
		stage1 += c.callEstimate(m, msgs, c.cfg.AnswerMaxTokens)
	}
	answerTokens := (int64(c.cfg.AnswerMaxTokens)*answerBytesPerToken + 2) / 3
	tokens := c.chairTokens(p, worstAnswers(p), 0) + int64(len(p.council))*answerTokens
	cheapest := -1.0
	for _, chair := range c.chairs(p, tokens) {
		if e := c.synthEstimate(chair, tokens); cheapest < 0 || e < cheapest {
			cheapest = e
		}
	}
	return stage1, stage1 + cheapest
}

// reviewPlan is what the cap lets Stage 2 and the chairman do.
type reviewPlan struct {
	reviewers []string // who reviews, in answer order
	dropped   []string
	chairman  string
	estimate  float64 // reviews and chairman
}

// planReview picks, within remaining, the most of Stage 2 and the chairman
// that fits: every reviewer and the planned chairman if it can; else the
// fewest reviewers dropped (the costliest first) with the planned
// chairman; else the same with each cheaper council model as chairman;
// else no review, with the planned chairman or the priciest cheaper one
// that fits. When nothing fits, which only estimates exceeded in Stage 1
// can cause, the cheapest chairman writes from the answers alone.
func (c *Council) planReview(p plan, answers []answer, remaining float64) reviewPlan {
	n := len(answers)
	type candidate struct {
		model    string
		estimate float64
	}
	var reviewers []candidate
	if n > 1 {
		for _, a := range answers {
			shown := showAnswers(a.model, answers)
			prompt := rankingPrompt(p.query, shown.labels, contentsOf(answers, shown.labelModels))
			reviewers = append(reviewers, candidate{a.model, c.callEstimate(a.model, []provider.Message{{Role: provider.RoleUser, Content: prompt}}, c.cfg.RankingMaxTokens)})
		}
	}
	cheapestFirst := slices.Clone(reviewers)
	slices.SortStableFunc(cheapestFirst, func(a, b candidate) int { return cmp.Compare(a.estimate, b.estimate) })
	build := func(chair string, k int, synth float64) reviewPlan {
		rp := reviewPlan{chairman: chair, estimate: synth}
		keep := make(map[string]bool, k)
		for _, r := range cheapestFirst[:k] {
			keep[r.model] = true
			rp.estimate += r.estimate
		}
		for _, r := range reviewers {
			if keep[r.model] {
				rp.reviewers = append(rp.reviewers, r.model)
			} else {
				rp.dropped = append(rp.dropped, r.model)
			}
		}
		return rp
	}
	chairs := c.chairs(p, c.chairTokens(p, answers, 0))
	planned := c.synthEstimate(p.chairman, c.chairTokens(p, answers, len(reviewers)))
	for i, chair := range chairs {
		for k := len(reviewers); k >= 1; k-- {
			synth := c.synthEstimate(chair, c.chairTokens(p, answers, k))
			if i > 0 && synth >= planned {
				break // not cheaper than the planned chairman
			}
			var reviews float64
			for _, r := range cheapestFirst[:k] {
				reviews += r.estimate
			}
			if reviews+synth <= remaining {
				return build(chair, k, synth)
			}
		}
	}
	tokens := c.chairTokens(p, answers, 0)
	cheapest := build(chairs[0], 0, c.synthEstimate(chairs[0], tokens))
	for _, chair := range chairs {
		synth := c.synthEstimate(chair, tokens)
		if synth <= remaining {
			return build(chair, 0, synth)
		}
		if synth < cheapest.estimate {
			cheapest = build(chair, 0, synth)
		}
	}
	return cheapest
}

// TierCost is the estimate of a consultation of t at the current prices
// for a question of referenceQueryBytes: the cap at which such a
// consultation is never cut when every answer reaches its token limit.
func (c *Council) TierCost(t Tier) float64 {
	p := plan{query: string(make([]byte, referenceQueryBytes)), council: t.Council, chairman: t.Chairman}
	stage1, _ := c.minimumCost(p)
	answers := worstAnswers(p)
	answerTokens := (int64(c.cfg.AnswerMaxTokens)*answerBytesPerToken + 2) / 3
	total := stage1
	for _, a := range answers {
		shown := showAnswers(a.model, answers)
		prompt := rankingPrompt(p.query, shown.labels, contentsOf(answers, shown.labelModels))
		tokens := cost.PromptTokens([]provider.Message{{Role: provider.RoleUser, Content: prompt}}) + int64(len(answers)-1)*answerTokens
		total += cost.Estimate(c.price(a.model), tokens, c.cfg.RankingMaxTokens)
	}
	tokens := c.chairTokens(p, answers, len(answers)) + int64(len(answers))*answerTokens
	return total + c.synthEstimate(t.Chairman, tokens)
}

// referenceQueryBytes is the question size TierCost prices.
const referenceQueryBytes = 500
