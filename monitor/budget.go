package monitor

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/councilhq/council/internal/quantile"
	"github.com/councilhq/council/orchestrator"
)

// A tier promises an end-to-end latency, and the three stages run one after
// the other, so each model call gets the share of that promise its stage's
// threshold has of the three thresholds together: with the default
// thresholds (5, 5 and 7 s) a "balanced" tier (18 s) gives a council model
// about 5.3 s per answer and per ranking and the chairman about 7.4 s.

// tierBudgets returns, for every tier, the per-call latency budget of each
// stage that has a threshold.
func tierBudgets(tiers []orchestrator.Tier, thresholds map[orchestrator.Stage]time.Duration) map[string]map[orchestrator.Stage]time.Duration {
	var sum time.Duration
	for _, st := range monitoredStages {
		if th := thresholds[st]; th > 0 {
			sum += th
		}
	}
	out := make(map[string]map[orchestrator.Stage]time.Duration, len(tiers))
	if sum == 0 {
		return out
	}
	for _, t := range tiers {
		b := make(map[orchestrator.Stage]time.Duration, len(monitoredStages))
		for _, st := range monitoredStages {
			if th := thresholds[st]; th > 0 {
				b[st] = time.Duration(float64(t.ExpectedLatency) * float64(th) / float64(sum))
			}
		}
		out[strings.ToLower(t.Name)] = b
	}
	return out
}

// budget returns the per-call budget of a stage in a tier, and false when
// there is none (unknown tier, or a stage without a threshold).
func (m *Monitor) budget(tier string, st orchestrator.Stage) (time.Duration, bool) {
	b, ok := m.budgets[strings.ToLower(tier)][st]
	return b, ok
}

// checkBudget compares the series' p90 with its tier's budget once it has
// enough samples. It returns a warning only when the series has just gone
// over the budget, so a slow model is reported once until it recovers.
// m.mu must be held.
func (m *Monitor) checkBudget(key seriesKey) (budgetWarning, bool) {
	ms := m.models[key]
	budget, ok := m.budget(ms.tier, key.stage)
	if !ok || len(ms.w.buf) < m.minSamples {
		return budgetWarning{}, false
	}
	over := p90Over(ms.w.buf, budget)
	fresh := over && !ms.over
	ms.over = over
	if !fresh {
		return budgetWarning{}, false
	}
	return budgetWarning{key: key, tier: ms.tier, p90: quantile.Of(ms.w.buf, 90), budget: budget, samples: len(ms.w.buf)}, true
}

// p90Over reports whether the p90 of samples (at least one) is over budget:
// whether fewer samples than the p90's rank are within it. It counts,
// rather than copying and sorting the window at every call.
func p90Over(samples []time.Duration, budget time.Duration) bool {
	within := 0
	for _, s := range samples {
		if s <= budget {
			within++
		}
	}
	return within < quantile.Rank(len(samples), 90)
}

// LogTier logs the tier the service runs with by default: its models, the
// latency and cost per query it promises, and the per-call budget of each
// stage that the monitor holds its models to (Requirement 5.5).
func (m *Monitor) LogTier(t orchestrator.Tier) {
	attrs := []slog.Attr{
		slog.String("tier", t.Name),
		slog.Any("council", t.Council),
		slog.String("chairman", t.Chairman),
		slog.Duration("expected_latency", t.ExpectedLatency),
		slog.Float64("cost_per_query_usd", t.CostPerQuery),
	}
	budgets := tierBudgets([]orchestrator.Tier{t}, m.thresholds)[strings.ToLower(t.Name)]
	var ba []any
	for _, st := range monitoredStages {
		if b, ok := budgets[st]; ok {
			ba = append(ba, slog.Duration(st.String(), b))
		}
	}
	if len(ba) > 0 {
		attrs = append(attrs, slog.Group("call_budget", ba...))
	}
	m.log.LogAttrs(context.Background(), slog.LevelInfo, "council tier", attrs...)
}
