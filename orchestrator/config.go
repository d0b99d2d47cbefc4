package orchestrator

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/councilhq/council/provider"
)

// Config holds the council's settings. The zero value of every field means
// its documented default; see [DefaultConfig].
type Config struct {
	// Tiers are the tiers requests choose from (see [ParseTiers]). Default
	// the built-in tiers, [Tiers].
	Tiers []Tier
	// Tier is the default tier's name, one of Tiers. Default "balanced".
	Tier string
	// Council overrides the default tier's council models when non-empty.
	Council []string
	// Chairman overrides the default tier's chairman when non-empty.
	Chairman string
	// FallbackChairman writes the final answer when the chairman fails.
	// Default: the best-ranked council model that answered and is not the chairman.
	FallbackChairman string
	// CollectTimeout bounds each Stage 1 model call. Default 10 s.
	CollectTimeout time.Duration
	// ReviewTimeout bounds each Stage 2 model call. Default 10 s.
	ReviewTimeout time.Duration
	// SynthesizeTimeout bounds the chairman's call. Default 15 s.
	SynthesizeTimeout time.Duration
	// MinAnswers is the fewest Stage 1 answers a consultation goes on with.
	// Default 2.
	MinAnswers int
	// ReviewQuorum is the fraction of reviewers whose rankings must be in
	// (or failed) before synthesis starts, in (0, 1]. Default 0.5.
	ReviewQuorum float64
	// KnownModels, when non-empty, is the provider's model list: a request
	// naming a model outside it is rejected. Default empty (no check).
	KnownModels []string
	// MaxModels is the largest council a request may name. Default 8.
	MaxModels int
	// AnswerMaxTokens, RankingMaxTokens and SynthesisMaxTokens cap each
	// call's completion. Defaults 1024, 1024 and 2048.
	AnswerMaxTokens    int
	RankingMaxTokens   int
	SynthesisMaxTokens int
	// DeltaFlushWindow is how long streamed text is gathered into one
	// event (see [SynthesisDelta]): a stream's first piece goes out at
	// once, later pieces once the window has passed since the last event
	// or 1 KiB is waiting. Default [DefaultDeltaFlushWindow]; negative
	// sends every piece as it arrives. A request may set its own.
	DeltaFlushWindow time.Duration
	// StragglerCutoff bounds the wait for slow council models; the zero
	// value, the default, waits for every model. A request may set its own.
	StragglerCutoff StragglerCutoff
}

// StragglerCutoff bounds how long Stage 1 waits for slow council models.
// Once Config.MinAnswers answers are in, the models still out get at most
// max(Floor, Multiple × the median latency of those answers), a deadline
// set then that later answers do not move; then
// the review starts without them, a [StragglersCut] event is emitted and
// the consultation is degraded ([DegradedStragglerCut]). Their answers are
// still emitted, late and unreviewed, until the final answer is complete.
// The zero value is off.
type StragglerCutoff struct {
	Floor    time.Duration
	Multiple float64
}

// On reports whether the cut-off is on.
func (s StragglerCutoff) On() bool { return s.Floor > 0 || s.Multiple > 0 }

// wait returns how long to wait for the stragglers given the latencies of
// the answers that made the quorum, and whether the cut-off is on.
func (s StragglerCutoff) wait(latencies []time.Duration) (time.Duration, bool) {
	if !s.On() || len(latencies) == 0 {
		return 0, false
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	n := len(sorted)
	median := sorted[n/2]
	if n%2 == 0 {
		median = (sorted[n/2-1] + sorted[n/2]) / 2
	}
	return max(s.Floor, time.Duration(s.Multiple*float64(median))), true
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		Tier:               DefaultTierName,
		CollectTimeout:     10 * time.Second,
		ReviewTimeout:      10 * time.Second,
		SynthesizeTimeout:  15 * time.Second,
		MinAnswers:         2,
		ReviewQuorum:       0.5,
		MaxModels:          8,
		AnswerMaxTokens:    1024,
		RankingMaxTokens:   1024,
		SynthesisMaxTokens: 2048,
	}
}

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if len(c.Tiers) == 0 {
		c.Tiers = builtinTiers
	}
	if c.Tier == "" {
		c.Tier = d.Tier
	}
	if c.CollectTimeout <= 0 {
		c.CollectTimeout = d.CollectTimeout
	}
	if c.ReviewTimeout <= 0 {
		c.ReviewTimeout = d.ReviewTimeout
	}
	if c.SynthesizeTimeout <= 0 {
		c.SynthesizeTimeout = d.SynthesizeTimeout
	}
	if c.MinAnswers <= 0 {
		c.MinAnswers = d.MinAnswers
	}
	if c.ReviewQuorum <= 0 || c.ReviewQuorum > 1 {
		c.ReviewQuorum = d.ReviewQuorum
	}
	if c.MaxModels <= 0 {
		c.MaxModels = d.MaxModels
	}
	if c.AnswerMaxTokens <= 0 {
		c.AnswerMaxTokens = d.AnswerMaxTokens
	}
	if c.RankingMaxTokens <= 0 {
		c.RankingMaxTokens = d.RankingMaxTokens
	}
	if c.SynthesisMaxTokens <= 0 {
		c.SynthesisMaxTokens = d.SynthesisMaxTokens
	}
	switch {
	case c.DeltaFlushWindow == 0:
		c.DeltaFlushWindow = DefaultDeltaFlushWindow
	case c.DeltaFlushWindow < 0:
		c.DeltaFlushWindow = 0
	}
	return c
}

// Request is one consultation. Its shape (a non-blank query, valid UTF-8,
// the size limits, distinct model ids, history roles) is checked by the
// caller, the server; the council checks only what needs its configuration:
// the tier's name, the models the provider serves and the council's size.
type Request struct {
	// Query is the question.
	Query string
	// Tier picks a tier by name; empty means the configured default.
	Tier string
	// Council names the council models explicitly; empty means the tier's.
	Council []string
	// Chairman names the chairman explicitly; empty means the tier's.
	Chairman string
	// History holds prior conversation turns, oldest first, given to Stage 1.
	History []provider.Message
	// RequestID is the caller's correlation id, echoed in ConsultStarted.
	RequestID string
	// DeltaFlushWindow, when set, replaces Config.DeltaFlushWindow; zero
	// sends every piece of text as it arrives.
	DeltaFlushWindow *time.Duration
	// StreamAnswers emits each council model's answer as [AnswerDelta]
	// events while it is written. Such calls are never hedged.
	StreamAnswers bool
	// StragglerCutoff, when set, replaces Config.StragglerCutoff.
	StragglerCutoff *StragglerCutoff
	// MaxCostUSD caps the consultation's cost in US dollars; zero or less
	// means no cap. See [Council.Consult].
	MaxCostUSD float64
	// Caller identifies who asks, for the observer's accounting.
	Caller string
}

// BudgetTooLowError ends, before any model call, a consultation whose cap
// is below the estimate of its cheapest plan.
type BudgetTooLowError struct {
	// MaxCostUSD is the request's cap.
	MaxCostUSD float64
	// MinimumUSD is the cheapest plan's estimate: Stage 1 and the cheapest
	// chairman writing from the answers alone.
	MinimumUSD float64
}

func (e *BudgetTooLowError) Error() string {
	return fmt.Sprintf("orchestrator: cost cap $%.6f is below the cheapest plan's estimate of $%.6f", e.MaxCostUSD, e.MinimumUSD)
}

// ErrQuorumNotMet ends a consultation whose Stage 1 produced fewer answers
// than Config.MinAnswers.
var ErrQuorumNotMet = errors.New("orchestrator: too few council models answered")

// ErrNoSynthesis ends a consultation whose chairman and fallback chairman
// both failed.
var ErrNoSynthesis = errors.New("orchestrator: no chairman could write the final answer")

// InvalidRequestError reports a Request field that is not acceptable.
type InvalidRequestError struct {
	// Field is the request field's name, e.g. "query" or "council_models[2]".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

func (e *InvalidRequestError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}
