package monitor

import (
	"cmp"
	"slices"
	"time"

	"github.com/councilhq/council/orchestrator"
)

// Snapshot is the monitor's view of recent latencies, for the stats RPC and
// the CLI. Distributions cover only the samples still in each window.
type Snapshot struct {
	// Window is the most samples any one distribution covers.
	Window int
	// Consultations counts every consultation seen since start.
	Consultations uint64
	// Failed counts the consultations that ended without an answer.
	Failed uint64
	// Total is the end-to-end duration of consultations that produced an
	// answer.
	Total Distribution
	// Stages lists collect, review and synthesize, then any other stage
	// seen, in stage order.
	Stages []StageStats
	// Models lists the (stage, model) series, by stage then model.
	Models []ModelStats
}

// StageStats is one stage's durations.
type StageStats struct {
	Stage orchestrator.Stage
	// Threshold is the duration past which the stage is reported slow;
	// zero when there is none.
	Threshold time.Duration
	// Exceeded counts, since start, the runs that took longer than Threshold.
	Exceeded uint64
	Distribution
}

// ModelStats is one model's own response times in one stage; only calls
// that produced a usable result are in the distribution.
type ModelStats struct {
	Stage orchestrator.Stage
	Model string
	// Tier is the tier of the consultation that last called the model here.
	Tier string
	// Failures counts the failed calls since the series was created.
	Failures uint64
	// Budget is the tier's per-call latency budget for this stage; zero
	// when the tier is unknown.
	Budget time.Duration
	// OverBudget is true while the p90 (over at least the minimum number of
	// samples) is above Budget.
	OverBudget bool
	Distribution
}

// Stats returns the current percentiles. It copies the windows under the
// monitor's lock and sorts them after releasing it.
func (m *Monitor) Stats() Snapshot {
	type stageCopy struct {
		st       orchestrator.Stage
		samples  []time.Duration
		exceeded uint64
	}
	type modelCopy struct {
		key     seriesKey
		samples []time.Duration
		ms      modelSeries
	}

	m.mu.Lock()
	snap := Snapshot{Window: m.window, Consultations: m.consultations, Failed: m.failed}
	total := m.total.samples()
	stages := make([]stageCopy, 0, len(m.stages))
	for st, ss := range m.stages {
		stages = append(stages, stageCopy{st: st, samples: ss.w.samples(), exceeded: ss.exceeded})
	}
	models := make([]modelCopy, 0, len(m.models))
	for k, ms := range m.models {
		models = append(models, modelCopy{key: k, samples: ms.w.samples(), ms: *ms})
	}
	m.mu.Unlock()

	snap.Total = distribute(total)
	slices.SortFunc(stages, func(a, b stageCopy) int { return cmp.Compare(a.st, b.st) })
	for _, s := range stages {
		th, _ := m.Threshold(s.st)
		snap.Stages = append(snap.Stages, StageStats{Stage: s.st, Threshold: th, Exceeded: s.exceeded, Distribution: distribute(s.samples)})
	}
	slices.SortFunc(models, func(a, b modelCopy) int {
		return cmp.Or(cmp.Compare(a.key.stage, b.key.stage), cmp.Compare(a.key.model, b.key.model))
	})
	for _, mc := range models {
		budget, _ := m.budget(mc.ms.tier, mc.key.stage)
		snap.Models = append(snap.Models, ModelStats{
			Stage:        mc.key.stage,
			Model:        mc.key.model,
			Tier:         mc.ms.tier,
			Failures:     mc.ms.failures,
			Budget:       budget,
			OverBudget:   mc.ms.over,
			Distribution: distribute(mc.samples),
		})
	}
	return snap
}
