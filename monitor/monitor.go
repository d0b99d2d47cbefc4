package monitor

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/councilhq/council/orchestrator"
)

// Monitor is the performance monitor: an orchestrator.Observer that logs
// every consultation's timings, warns about slow stages and slow models, and
// keeps latency percentiles over a bounded window (see [Monitor.Stats]).
//
// Its memory is bounded whatever the traffic: one ring buffer of the last
// [WithWindow] samples for the total, one per stage, and one per (stage,
// model) series, of which at most [WithMaxModelSeries] are kept (the least
// recently used one is dropped to make room). It is safe for concurrent use
// and never blocks on anything but its own short critical section and its
// logger.
type Monitor struct {
	log        *slog.Logger
	thresholds map[orchestrator.Stage]time.Duration
	budgets    map[string]map[orchestrator.Stage]time.Duration
	window     int
	maxSeries  int
	minSamples int
	inst       instruments

	mu            sync.Mutex
	consultations uint64
	failed        uint64
	total         *window
	stages        map[orchestrator.Stage]*stageSeries
	models        map[seriesKey]*modelSeries
	tick          uint64
}

var _ orchestrator.Observer = (*Monitor)(nil)

// stageSeries holds one stage's recent durations.
type stageSeries struct {
	w        *window
	exceeded uint64
}

// seriesKey names a model series.
type seriesKey struct {
	stage orchestrator.Stage
	model string
}

// modelSeries holds one model's recent response times in one stage.
type modelSeries struct {
	w        *window
	failures uint64
	lastUsed uint64
	tier     string
	over     bool
}

// monitoredStages are the stages whose series exist from the start.
var monitoredStages = []orchestrator.Stage{orchestrator.StageCollect, orchestrator.StageReview, orchestrator.StageSynthesize}

// New returns a Monitor configured by opts.
func New(opts ...Option) *Monitor {
	o := newOptions(opts)
	m := &Monitor{
		log:        o.logger,
		thresholds: o.thresholds,
		budgets:    tierBudgets(o.tiers, o.thresholds),
		window:     o.window,
		maxSeries:  o.maxSeries,
		minSamples: o.minSamples,
		inst:       newInstruments(o.meterProvider.Meter(InstrumentationName)),
		total:      newWindow(o.window),
		stages:     make(map[orchestrator.Stage]*stageSeries),
		models:     make(map[seriesKey]*modelSeries),
	}
	for _, st := range monitoredStages {
		m.stages[st] = &stageSeries{w: newWindow(o.window)}
	}
	return m
}

// Threshold returns the duration past which stage st is reported as slow,
// and false when that stage has no threshold.
func (m *Monitor) Threshold(st orchestrator.Stage) (time.Duration, bool) {
	th, ok := m.thresholds[st]
	return th, ok && th > 0
}

// exceeds reports whether a stage that took d ran past its threshold:
// strictly longer than a positive threshold.
func (m *Monitor) exceeds(st orchestrator.Stage, d time.Duration) bool {
	th, ok := m.Threshold(st)
	return ok && d > th
}

// budgetWarning is a model series whose p90 has just gone past its tier's budget.
type budgetWarning struct {
	key     seriesKey
	tier    string
	p90     time.Duration
	budget  time.Duration
	samples int
}

// ConsultationFinished records s, then logs one line with its timings
// (Property 11), one warning per stage that ran past its threshold
// (Property 12), and one warning per model whose p90 has just gone past
// what the consultation's tier promises (Requirement 5.5).
func (m *Monitor) ConsultationFinished(ctx context.Context, s orchestrator.Summary) {
	stages := sortedStages(s.StageDurations)
	warnings := m.record(s, stages)

	m.logSummary(ctx, s, stages)
	for _, st := range stages {
		if d := s.StageDurations[st]; m.exceeds(st, d) {
			th := m.thresholds[st]
			m.log.LogAttrs(ctx, slog.LevelWarn, "stage exceeded threshold",
				slog.String("consultation_id", s.ConsultationID),
				slog.String("stage", st.String()),
				slog.Duration("duration", d),
				slog.Duration("threshold", th),
				slog.Duration("over", d-th))
		}
	}
	for _, w := range warnings {
		m.log.LogAttrs(ctx, slog.LevelWarn, "model slower than its tier promises",
			slog.String("model", w.key.model),
			slog.String("stage", w.key.stage.String()),
			slog.String("tier", w.tier),
			slog.Duration("p90", w.p90),
			slog.Duration("budget", w.budget),
			slog.Int("samples", w.samples))
	}
	m.inst.record(s, stages)
}

// record adds s to the windows and returns the budget warnings it caused.
func (m *Monitor) record(s orchestrator.Summary, stages []orchestrator.Stage) []budgetWarning {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.consultations++
	if s.Err != nil {
		m.failed++
	} else {
		m.total.add(s.Duration)
	}
	for _, st := range stages {
		d := s.StageDurations[st]
		ss := m.stages[st]
		if ss == nil {
			ss = &stageSeries{w: newWindow(m.window)}
			m.stages[st] = ss
		}
		ss.w.add(d)
		if m.exceeds(st, d) {
			ss.exceeded++
		}
	}
	var touched []seriesKey
	for _, c := range s.Calls {
		key := seriesKey{stage: c.Stage, model: c.Model}
		ms := m.series(key)
		ms.tier = s.Tier
		if !c.OK {
			ms.failures++
			continue
		}
		ms.w.add(c.Latency)
		if !slices.Contains(touched, key) {
			touched = append(touched, key)
		}
	}
	var warnings []budgetWarning
	for _, key := range touched {
		if w, ok := m.checkBudget(key); ok {
			warnings = append(warnings, w)
		}
	}
	return warnings
}

// series returns the series for key, making room for it if it is new.
// m.mu must be held.
func (m *Monitor) series(key seriesKey) *modelSeries {
	m.tick++
	ms := m.models[key]
	if ms == nil {
		if len(m.models) >= m.maxSeries {
			m.evictOldest()
		}
		ms = &modelSeries{w: newWindow(m.window)}
		m.models[key] = ms
	}
	ms.lastUsed = m.tick
	return ms
}

// evictOldest drops the least recently used model series. m.mu must be held.
func (m *Monitor) evictOldest() {
	var (
		oldest seriesKey
		found  bool
		at     uint64
	)
	for k, ms := range m.models {
		if !found || ms.lastUsed < at {
			oldest, at, found = k, ms.lastUsed, true
		}
	}
	delete(m.models, oldest)
}

// sortedStages returns the stages of durations in stage order.
func sortedStages(durations map[orchestrator.Stage]time.Duration) []orchestrator.Stage {
	out := make([]orchestrator.Stage, 0, len(durations))
	for st := range durations {
		out = append(out, st)
	}
	return sortedStageList(out)
}

// sortedStageList sorts stages in place into stage order and returns them.
func sortedStageList(stages []orchestrator.Stage) []orchestrator.Stage {
	slices.Sort(stages)
	return stages
}
