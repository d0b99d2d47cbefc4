package monitor

import (
	"context"
	"errors"
	"log/slog"

	"github.com/councilhq/council/orchestrator"
)

// logSummary writes the consultation's one INFO line: its total, each
// stage's duration, each responding model's own response time grouped by
// stage, and the reason of each failed call (Property 11).
func (m *Monitor) logSummary(ctx context.Context, s orchestrator.Summary, stages []orchestrator.Stage) {
	stageAttrs := make([]any, 0, len(stages))
	for _, st := range stages {
		stageAttrs = append(stageAttrs, slog.Duration(st.String(), s.StageDurations[st]))
	}
	attrs := []slog.Attr{
		slog.String("consultation_id", s.ConsultationID),
		slog.String("tier", s.Tier),
		slog.String("outcome", outcome(s)),
		slog.Duration("total", s.Duration),
		slog.Group("stages", stageAttrs...),
	}
	if g := callGroup(s.Calls, true); len(g) > 0 {
		attrs = append(attrs, slog.Group("models", g...))
	}
	if g := callGroup(s.Calls, false); len(g) > 0 {
		attrs = append(attrs, slog.Group("failed", g...))
	}
	m.log.LogAttrs(ctx, slog.LevelInfo, "consultation finished", attrs...)
}

// callGroup returns, per stage in order, a group of the calls whose OK is
// ok: model → latency for answers, model → reason for failures.
func callGroup(calls []orchestrator.CallSummary, ok bool) []any {
	byStage := make(map[orchestrator.Stage][]any)
	var order []orchestrator.Stage
	for _, c := range calls {
		if c.OK != ok {
			continue
		}
		if _, seen := byStage[c.Stage]; !seen {
			order = append(order, c.Stage)
		}
		if ok {
			byStage[c.Stage] = append(byStage[c.Stage], slog.Duration(c.Model, c.Latency))
		} else {
			byStage[c.Stage] = append(byStage[c.Stage], slog.String(c.Model, c.Reason.String()))
		}
	}
	out := make([]any, 0, len(order))
	for _, st := range sortedStageList(order) {
		out = append(out, slog.Group(st.String(), byStage[st]...))
	}
	return out
}

// outcome classifies a consultation for logs and metrics without using the
// error's text: "ok", "degraded", or the kind of failure.
func outcome(s orchestrator.Summary) string {
	var inv *orchestrator.InvalidRequestError
	switch {
	case s.Err == nil && s.Degraded:
		return "degraded"
	case s.Err == nil:
		return "ok"
	case errors.Is(s.Err, orchestrator.ErrQuorumNotMet):
		return "quorum_not_met"
	case errors.Is(s.Err, orchestrator.ErrNoSynthesis):
		return "no_synthesis"
	case errors.Is(s.Err, context.Canceled):
		return "canceled"
	case errors.Is(s.Err, context.DeadlineExceeded):
		return "deadline_exceeded"
	case errors.As(s.Err, &inv):
		return "invalid_request"
	}
	return "error"
}
