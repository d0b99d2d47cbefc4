package orchestrator

import (
	"context"
	"time"
)

// CallSummary describes one model call of a finished consultation.
type CallSummary struct {
	Stage Stage
	Model string
	// Latency is the call's own duration, from its start to its answer or failure.
	Latency time.Duration
	// OK is true when the call produced a usable result.
	OK bool
	// Reason is why it failed; meaningful only when OK is false.
	Reason FailureReason
	// CostUSD is the call's actual cost; zero for a failed call.
	CostUSD float64
	// EstimateUSD is what the call was estimated to cost at most.
	EstimateUSD float64
}

// Summary describes a finished consultation, for monitoring.
type Summary struct {
	ConsultationID string
	Tier           string
	// Caller is the request's Caller.
	Caller   string
	Start    time.Time
	Duration time.Duration
	// StageDurations holds the duration of every stage that ran.
	StageDurations map[Stage]time.Duration
	// Calls lists every model call in the order they finished.
	Calls    []CallSummary
	Degraded bool
	// Err is nil when the consultation produced a final answer.
	Err error
}

// Observer is told about every consultation when it ends. Implementations
// must be safe for concurrent use and must not block.
// ctx is the consultation's context, which may have ended; it is for
// joining logs to the call and its trace, not for cancellation.
type Observer interface {
	ConsultationFinished(ctx context.Context, s Summary)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(ctx context.Context, s Summary)

// ConsultationFinished calls f(ctx, s).
func (f ObserverFunc) ConsultationFinished(ctx context.Context, s Summary) { f(ctx, s) }
