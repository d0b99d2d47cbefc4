package orchestrator

import "time"

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
}

// Summary describes a finished consultation, for monitoring.
type Summary struct {
	ConsultationID string
	Tier           string
	Start          time.Time
	Duration       time.Duration
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
type Observer interface {
	ConsultationFinished(s Summary)
}

// ObserverFunc adapts a function to [Observer].
type ObserverFunc func(s Summary)

// ConsultationFinished calls f(s).
func (f ObserverFunc) ConsultationFinished(s Summary) { f(s) }
