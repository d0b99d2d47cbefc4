package orchestrator

import (
	"time"

	"github.com/councilhq/council/provider"
)

// Stage is a phase of a consultation.
type Stage int

// Stages, in the order a consultation runs them.
const (
	// StageNone marks events that belong to no stage.
	StageNone Stage = iota
	// StageCollect asks every council model the question.
	StageCollect
	// StageReview has every answering model rank the others' answers.
	StageReview
	// StageSynthesize has the chairman write the final answer.
	StageSynthesize
)

var stageNames = [...]string{"none", "collect", "review", "synthesize"}

// String returns the stage's lower-case name.
func (s Stage) String() string {
	if s >= 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "unknown"
}

// Event is one step of a consultation, as delivered to the caller's emit
// function. Sequence starts at 1 and grows by one per event; Stage is the
// consultation's stage when the event was emitted, so it never goes back.
type Event struct {
	Sequence       uint64
	ConsultationID string
	Stage          Stage
	Time           time.Time
	// Payload is exactly one of the payload types below
	// (*ConsultStarted, *StageStarted, …).
	Payload any
}

// ConsultStarted opens every consultation.
type ConsultStarted struct {
	RequestID string
	Tier      string
	Council   []string
	Chairman  string
}

// StageStarted marks the start of a stage.
type StageStarted struct {
	Stage Stage
	// Models lists the models called in this stage.
	Models []string
}

// ModelAnswered is one council model's Stage 1 answer.
type ModelAnswered struct {
	Model   string
	Content string
	Latency time.Duration
	Usage   provider.Usage
	// Attempts is the number of upstream attempts it took (1 when none failed).
	Attempts int
	// Late is true when the answer arrived after the straggler cut-off
	// ended Stage 1, so it is not reviewed.
	Late bool
}

// AnswerDelta is a piece of a council model's Stage 1 answer as it is
// written, emitted only when the request streams answers. A model's
// deltas concatenate to the content of its ModelAnswered, which follows
// them.
type AnswerDelta struct {
	Model string
	Text  string
}

// StragglersCut reports that the straggler cut-off ended Stage 1 without
// the council models still out.
type StragglersCut struct {
	// Models are the models left out, in council order.
	Models []string
	// Waited is how long Stage 1 waited for them once the answer quorum
	// was in.
	Waited time.Duration
}

// ModelRanked is one reviewer's ranking of the other models' answers.
type ModelRanked struct {
	Reviewer string
	// RawText is what the reviewer wrote.
	RawText string
	// Ranking is the parsed ranking, best first, as model ids.
	Ranking []string
	// Labels maps the anonymous labels the reviewer saw ("Response A") to models.
	Labels  map[string]string
	Latency time.Duration
	Usage   provider.Usage
	// Attempts is the number of upstream attempts it took.
	Attempts int
	// Late is true when the ranking arrived after synthesis had started,
	// so it is not part of the aggregate the chairman saw.
	Late bool
}

// FailureReason says why a model call failed.
type FailureReason int

// Failure reasons. New reasons may be added.
const (
	ReasonUnknown FailureReason = iota
	ReasonTimeout
	ReasonRateLimited
	ReasonUpstreamError
	ReasonInvalidOutput
	ReasonQuota
	ReasonAuth
	ReasonCooldown
	ReasonCanceled
)

var reasonNames = [...]string{"unknown", "timeout", "rate_limited", "upstream_error", "invalid_output", "quota", "auth", "cooldown", "canceled"}

// String returns the reason's snake_case name.
func (r FailureReason) String() string {
	if r >= 0 && int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return "unknown"
}

// ModelFailed reports a model call that produced nothing usable.
type ModelFailed struct {
	Stage  Stage
	Model  string
	Reason FailureReason
	// Message is safe to show: it never holds upstream text.
	Message  string
	Attempts int
	Latency  time.Duration
}

// AggregateEntry is one model's place in the aggregate ranking.
type AggregateEntry struct {
	Model string
	// AverageRank is the mean position given by the reviewers that saw the
	// model's answer (1 is best); HasRank is false when no reviewer did.
	AverageRank float64
	HasRank     bool
	// Votes is the number of reviewers that placed the model explicitly.
	Votes int
	// FirstPlaces is the number of reviewers that ranked it first.
	FirstPlaces int
}

// RankingsAggregated is the combined ranking the chairman is given.
type RankingsAggregated struct {
	// Entries is best first.
	Entries []AggregateEntry
	// Reviewers is the number of rankings included.
	Reviewers int
}

// SynthesisDelta is a piece of the chairman's text as it is written,
// gathered over the consultation's flush window (see
// [Config.DeltaFlushWindow]): the deltas of one chairman call concatenate
// to its FinalAnswer's content.
type SynthesisDelta struct {
	Model string
	Text  string
}

// FinalAnswer is the chairman's complete answer.
type FinalAnswer struct {
	Model   string
	Content string
	Latency time.Duration
	Usage   provider.Usage
	// Fallback is true when the configured chairman failed and another
	// model wrote the answer.
	Fallback bool
}

// StageCompleted closes a stage.
type StageCompleted struct {
	Stage     Stage
	Duration  time.Duration
	Successes int
	Failures  int
}

// ConsultCompleted is the last event of a consultation that produced an answer.
type ConsultCompleted struct {
	Duration       time.Duration
	StageDurations map[Stage]time.Duration
	Degraded       bool
	// Reasons says why the consultation is degraded, each reason once.
	Reasons []DegradedReason
	// Excluded lists the council models whose Stage 1 answer is missing.
	Excluded []string
	// Usage totals every call's tokens and actual cost.
	Usage provider.Usage
	// EstimatedCostUSD is the sum of the estimates of every call made.
	EstimatedCostUSD float64
	// CapOvershootUSD is how much the actual cost exceeds the request's
	// cap; zero when it does not or there is none.
	CapOvershootUSD float64
}

// BudgetApplied reports a decision of the request's cost cap before a
// stage. Stage is the stage planned: StageCollect (the whole consultation
// must fit), StageReview (reviewers and chairman) or StageSynthesize (the
// fallback chairman).
type BudgetApplied struct {
	Stage      Stage
	MaxCostUSD float64
	// SpentUSD is the actual cost of the calls finished plus the estimates
	// of those still running.
	SpentUSD float64
	// EstimatedCostUSD is the estimate of what the decision lets run until
	// the consultation ends.
	EstimatedCostUSD float64
	// DroppedReviewers are left out of Stage 2.
	DroppedReviewers []string
	// Chairman replaces PlannedChairman when set.
	Chairman        string
	PlannedChairman string
	// ReviewSkipped: the chairman writes from the answers alone.
	ReviewSkipped bool
	// FallbackSkipped: the fallback chairman's estimate does not fit.
	FallbackSkipped bool
}

// DegradedReason says why a consultation's answer rests on less than was
// planned. New reasons may be added.
type DegradedReason int

// Degraded reasons.
const (
	// DegradedModelFailed: a model call failed, so an answer or a ranking
	// is missing.
	DegradedModelFailed DegradedReason = iota + 1
	// DegradedFallbackChairman: the configured chairman failed and a
	// fallback model wrote the answer.
	DegradedFallbackChairman
	// DegradedStragglerCut: the straggler cut-off left slow council models
	// out of the review.
	DegradedStragglerCut
	// DegradedBudget: the request's cost cap cut reviewers, chose a
	// cheaper chairman, skipped the review or the fallback chairman.
	DegradedBudget
)

var degradedNames = [...]string{"unknown", "model_failed", "fallback_chairman", "straggler_cut", "budget"}

// String returns the reason's snake_case name.
func (d DegradedReason) String() string {
	if d >= 0 && int(d) < len(degradedNames) {
		return degradedNames[d]
	}
	return "unknown"
}
