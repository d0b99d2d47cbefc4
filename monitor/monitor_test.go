package monitor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/orchestrator"
)

// logCapture is a JSON slog handler writing into memory.
type logCapture struct{ syncbuf.Buffer }

func (c *logCapture) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// records decodes every line written so far.
func (c *logCapture) records(t interface{ Fatalf(string, ...any) }) []map[string]any {
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(c.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// withMsg returns the records with the given message.
func withMsg(recs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// nanos reads a JSON-logged duration (nanoseconds).
func nanos(v any) time.Duration {
	f, _ := v.(float64)
	return time.Duration(f)
}

var stages = []orchestrator.Stage{orchestrator.StageCollect, orchestrator.StageReview, orchestrator.StageSynthesize}

// drawSummary draws a consultation: stage durations, and calls from a small
// model pool with distinct models per stage.
func drawSummary(t *rapid.T, models []string) orchestrator.Summary {
	s := orchestrator.Summary{
		ConsultationID: rapid.StringMatching(`[a-f0-9]{8}`).Draw(t, "id"),
		Tier:           rapid.SampledFrom([]string{"speed", "balanced", "cost"}).Draw(t, "tier"),
		StageDurations: map[orchestrator.Stage]time.Duration{},
		Degraded:       rapid.Bool().Draw(t, "degraded"),
	}
	n := rapid.IntRange(1, 3).Draw(t, "stages")
	for _, st := range stages[:n] {
		d := time.Duration(rapid.Int64Range(0, int64(20*time.Second)).Draw(t, "stage duration"))
		s.StageDurations[st] = d
		s.Duration += d
		picked := rapid.SliceOfNDistinct(rapid.SampledFrom(models), 1, len(models), rapid.ID[string]).Draw(t, "models")
		for _, m := range picked {
			s.Calls = append(s.Calls, orchestrator.CallSummary{
				Stage:   st,
				Model:   m,
				Latency: time.Duration(rapid.Int64Range(0, int64(d)).Draw(t, "latency")),
				OK:      rapid.IntRange(0, 4).Draw(t, "ok") > 0,
				Reason:  orchestrator.ReasonTimeout,
			})
		}
	}
	return s
}

// Property 11: for any consultation, the monitor logs one line with the
// total duration, every stage's duration and every responding model's own
// response time, and lists the failed calls apart.
func TestMonitorLogsEveryTiming(t *testing.T) {
	t.Parallel()
	models := []string{"openai/gpt-5-mini", "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash", "mistralai/mistral-medium-3.1"}
	rapid.Check(t, func(t *rapid.T) {
		var logs logCapture
		m := New(WithLogger(logs.logger()))
		s := drawSummary(t, models)
		m.ConsultationFinished(context.Background(), s)

		lines := withMsg(logs.records(t), "consultation finished")
		if len(lines) != 1 {
			t.Fatalf("got %d summary lines, want 1", len(lines))
		}
		l := lines[0]
		if l["level"] != "INFO" || l["consultation_id"] != s.ConsultationID || l["tier"] != s.Tier {
			t.Fatalf("summary line = %v", l)
		}
		if nanos(l["total"]) != s.Duration {
			t.Fatalf("total = %v, want %v", nanos(l["total"]), s.Duration)
		}
		stagesLogged, _ := l["stages"].(map[string]any)
		if len(stagesLogged) != len(s.StageDurations) {
			t.Fatalf("stages logged = %v, want %d", stagesLogged, len(s.StageDurations))
		}
		for st, d := range s.StageDurations {
			if nanos(stagesLogged[st.String()]) != d {
				t.Fatalf("stage %s = %v, want %v", st, stagesLogged[st.String()], d)
			}
		}
		modelsLogged, _ := l["models"].(map[string]any)
		failedLogged, _ := l["failed"].(map[string]any)
		wantOK, wantFailed := 0, 0
		for _, c := range s.Calls {
			if c.OK {
				wantOK++
				group, _ := modelsLogged[c.Stage.String()].(map[string]any)
				if v, ok := group[c.Model]; !ok || nanos(v) != c.Latency {
					t.Fatalf("%s/%s latency logged as %v, want %v", c.Stage, c.Model, v, c.Latency)
				}
			} else {
				wantFailed++
				group, _ := failedLogged[c.Stage.String()].(map[string]any)
				if group[c.Model] != c.Reason.String() {
					t.Fatalf("%s/%s failure logged as %v", c.Stage, c.Model, group[c.Model])
				}
			}
		}
		if got := countLeaves(modelsLogged); got != wantOK {
			t.Fatalf("models logged %d latencies, want %d", got, wantOK)
		}
		if got := countLeaves(failedLogged); got != wantFailed {
			t.Fatalf("failed logged %d calls, want %d", got, wantFailed)
		}
	})
}

func countLeaves(groups map[string]any) int {
	n := 0
	for _, g := range groups {
		m, _ := g.(map[string]any)
		n += len(m)
	}
	return n
}

// Property 12: for any stage durations and thresholds, the monitor warns
// exactly for the stages that took strictly longer than their threshold,
// and never for a stage whose threshold is off.
func TestMonitorWarnsExactlyWhenThresholdExceeded(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		th := map[orchestrator.Stage]time.Duration{}
		for _, st := range stages {
			// Zero or negative turns the warning off.
			th[st] = time.Duration(rapid.Int64Range(-1, int64(10*time.Second)).Draw(t, "threshold"))
		}
		var logs logCapture
		m := New(WithLogger(logs.logger()), WithThresholds(th))
		s := orchestrator.Summary{ConsultationID: "c", Tier: "balanced", StageDurations: map[orchestrator.Stage]time.Duration{}}
		want := map[string]bool{}
		for _, st := range stages {
			if !rapid.Bool().Draw(t, "ran") {
				continue
			}
			// Land on, just around or anywhere near the threshold.
			delta := rapid.OneOf(rapid.Int64Range(-1, 1), rapid.Int64Range(-int64(time.Second), int64(time.Second))).Draw(t, "delta")
			d := max(th[st]+time.Duration(delta), 0)
			s.StageDurations[st] = d
			if th[st] > 0 && d > th[st] {
				want[st.String()] = true
			}
		}
		m.ConsultationFinished(context.Background(), s)

		got := map[string]bool{}
		for _, r := range withMsg(logs.records(t), "stage exceeded threshold") {
			st, _ := r["stage"].(string)
			if r["level"] != "WARN" || got[st] {
				t.Fatalf("bad or repeated warning %v", r)
			}
			got[st] = true
			stage := stageByName(t, st)
			if nanos(r["duration"]) != s.StageDurations[stage] || nanos(r["threshold"]) != th[stage] {
				t.Fatalf("warning %v does not match duration %v and threshold %v", r, s.StageDurations[stage], th[stage])
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("warned for %v, want %v (durations %v, thresholds %v)", got, want, s.StageDurations, th)
		}
		for _, ss := range m.Stats().Stages {
			if (ss.Exceeded == 1) != want[ss.Stage.String()] {
				t.Fatalf("stage %s exceeded count %d, want warned=%v", ss.Stage, ss.Exceeded, want[ss.Stage.String()])
			}
		}
	})
}

func stageByName(t *rapid.T, name string) orchestrator.Stage {
	for _, st := range stages {
		if st.String() == name {
			return st
		}
	}
	t.Fatalf("unknown stage %q", name)
	return 0
}

func TestMonitorDefaultThresholds(t *testing.T) {
	t.Parallel()
	var logs logCapture
	m := New(WithLogger(logs.logger()))
	m.ConsultationFinished(context.Background(), orchestrator.Summary{StageDurations: map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect:    5 * time.Second,                      // at, not over
		orchestrator.StageReview:     5*time.Second + time.Millisecond,     // over
		orchestrator.StageSynthesize: 7*time.Second + 500*time.Millisecond, // over
	}})
	var warned []string
	for _, r := range withMsg(logs.records(t), "stage exceeded threshold") {
		warned = append(warned, r["stage"].(string))
	}
	if fmt.Sprint(warned) != "[review synthesize]" {
		t.Errorf("warned for %v, want [review synthesize]", warned)
	}
}

// referencePercentile is the nearest-rank percentile by its definition:
// the smallest sample v such that at least p % of the samples are <= v.
func referencePercentile(samples []time.Duration, p int) time.Duration {
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	for _, v := range sorted {
		atOrBelow := 0
		for _, x := range sorted {
			if x <= v {
				atOrBelow++
			}
		}
		if atOrBelow*100 >= p*len(sorted) {
			return v
		}
	}
	return 0
}

// referenceDistribution computes a Distribution from a sorted copy.
func referenceDistribution(samples []time.Duration) Distribution {
	if len(samples) == 0 {
		return Distribution{}
	}
	sorted := append([]time.Duration(nil), samples...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	var sum float64
	for _, s := range sorted {
		sum += float64(s)
	}
	return Distribution{
		Count: len(sorted),
		Min:   sorted[0],
		Mean:  time.Duration(sum / float64(len(sorted))),
		P50:   referencePercentile(sorted, 50),
		P90:   referencePercentile(sorted, 90),
		P95:   referencePercentile(sorted, 95),
		P99:   referencePercentile(sorted, 99),
		Max:   sorted[len(sorted)-1],
	}
}

// sameDistribution compares two distributions, allowing the reference mean
// (computed in floating point) to be off by a nanosecond per 2^52.
func sameDistribution(got, want Distribution) bool {
	diff := got.Mean - want.Mean
	if diff < 0 {
		diff = -diff
	}
	got.Mean, want.Mean = 0, 0
	return got == want && diff <= 1+want.Max>>50
}

// Property 13: for any samples and window size, the window's percentiles
// are the nearest-rank percentiles of the last window-size samples, and the
// window never holds more than its size.
func TestWindowPercentiles(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(1, 64).Draw(t, "size")
		raw := rapid.SliceOfN(rapid.Int64Range(0, int64(time.Hour)), 0, 300).Draw(t, "samples")
		w := newWindow(size)
		var all []time.Duration
		for _, v := range raw {
			w.add(time.Duration(v))
			all = append(all, time.Duration(v))
			if len(w.buf) > size || cap(w.buf) != size {
				t.Fatalf("window holds %d (cap %d), want at most %d", len(w.buf), cap(w.buf), size)
			}
		}
		last := all[max(0, len(all)-size):]
		got, want := distribute(w.samples()), referenceDistribution(last)
		if !sameDistribution(got, want) {
			t.Fatalf("distribution = %+v, want %+v", got, want)
		}
	})
}

func TestNearestRankExamples(t *testing.T) {
	t.Parallel()
	var oneToTen []time.Duration
	for i := 1; i <= 10; i++ {
		oneToTen = append(oneToTen, time.Duration(i))
	}
	d := distribute(oneToTen)
	if d.P50 != 5 || d.P90 != 9 || d.P95 != 10 || d.P99 != 10 || d.Min != 1 || d.Max != 10 || d.Mean != 5 {
		t.Errorf("1..10: %+v, want p50 5, p90 9, p95 10, p99 10, mean 5", d)
	}
	if d := distribute([]time.Duration{7}); d.P50 != 7 || d.P99 != 7 || d.Count != 1 {
		t.Errorf("single sample: %+v", d)
	}
	if d := distribute(nil); d != (Distribution{}) {
		t.Errorf("no samples: %+v", d)
	}
}

// Property 13, through the monitor: after any sequence of consultations,
// every series' statistics are those of its last window-size samples.
func TestMonitorStatsMatchReference(t *testing.T) {
	t.Parallel()
	models := []string{"m/a", "m/b", "m/c"}
	rapid.Check(t, func(t *rapid.T) {
		size := rapid.IntRange(1, 8).Draw(t, "window")
		m := New(WithLogger(slog.New(slog.DiscardHandler)), WithWindow(size))
		var total []time.Duration
		stageSamples := map[orchestrator.Stage][]time.Duration{}
		modelSamples := map[seriesKey][]time.Duration{}
		failures := map[seriesKey]uint64{}
		n := rapid.IntRange(1, 25).Draw(t, "consultations")
		failed := uint64(0)
		for range n {
			s := drawSummary(t, models)
			if rapid.IntRange(0, 5).Draw(t, "fails") == 0 {
				s.Err = orchestrator.ErrQuorumNotMet
				failed++
			} else {
				total = append(total, s.Duration)
			}
			for st, d := range s.StageDurations {
				stageSamples[st] = append(stageSamples[st], d)
			}
			for _, c := range s.Calls {
				k := seriesKey{c.Stage, c.Model}
				if c.OK {
					modelSamples[k] = append(modelSamples[k], c.Latency)
				} else {
					failures[k]++
				}
			}
			m.ConsultationFinished(context.Background(), s)
		}
		last := func(xs []time.Duration) []time.Duration { return xs[max(0, len(xs)-size):] }

		snap := m.Stats()
		if snap.Consultations != uint64(n) || snap.Failed != failed || snap.Window != size {
			t.Fatalf("counts = %d/%d window %d, want %d/%d window %d", snap.Consultations, snap.Failed, snap.Window, n, failed, size)
		}
		if !sameDistribution(snap.Total, referenceDistribution(last(total))) {
			t.Fatalf("total = %+v, want %+v", snap.Total, referenceDistribution(last(total)))
		}
		for i, ss := range snap.Stages {
			if ss.Stage != stages[i] {
				t.Fatalf("stage order: %v at %d", ss.Stage, i)
			}
			if want := referenceDistribution(last(stageSamples[ss.Stage])); !sameDistribution(ss.Distribution, want) {
				t.Fatalf("stage %s = %+v, want %+v", ss.Stage, ss.Distribution, want)
			}
		}
		seen := 0
		for _, ms := range snap.Models {
			k := seriesKey{ms.Stage, ms.Model}
			if want := referenceDistribution(last(modelSamples[k])); !sameDistribution(ms.Distribution, want) {
				t.Fatalf("model %v = %+v, want %+v", k, ms.Distribution, want)
			}
			if ms.Failures != failures[k] {
				t.Fatalf("model %v failures = %d, want %d", k, ms.Failures, failures[k])
			}
			seen++
		}
		keys := map[seriesKey]bool{}
		for k := range modelSamples {
			keys[k] = true
		}
		for k := range failures {
			keys[k] = true
		}
		if seen != len(keys) {
			t.Fatalf("got %d model series, want %d", seen, len(keys))
		}
	})
}

// The number of model series is capped, dropping the least recently used,
// so memory does not grow with the number of distinct models.
func TestMonitorBoundsModelSeries(t *testing.T) {
	t.Parallel()
	m := New(WithLogger(slog.New(slog.DiscardHandler)), WithMaxModelSeries(4), WithWindow(2))
	call := func(model string) {
		m.ConsultationFinished(context.Background(), orchestrator.Summary{Calls: []orchestrator.CallSummary{
			{Stage: orchestrator.StageCollect, Model: model, Latency: time.Second, OK: true},
		}})
	}
	for i := range 100 {
		call(fmt.Sprintf("m/%d", i))
		call("m/hot") // used after every other model, so never the oldest
	}
	var got []string
	for _, ms := range m.Stats().Models {
		got = append(got, ms.Model)
		if ms.Count > 2 {
			t.Errorf("%s holds %d samples, window is 2", ms.Model, ms.Count)
		}
	}
	if want := "[m/97 m/98 m/99 m/hot]"; fmt.Sprint(got) != want {
		t.Errorf("series kept = %v, want %v", got, want)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.models) != 4 {
		t.Errorf("monitor holds %d model series, want 4", len(m.models))
	}
}

// Requirement 5.5: a model whose p90 goes past its tier's per-call budget
// is reported once, and again only after it has recovered.
func TestMonitorWarnsWhenModelSlowerThanTier(t *testing.T) {
	t.Parallel()
	var logs logCapture
	m := New(WithLogger(logs.logger()), WithMinSamples(5), WithWindow(10))
	// Balanced promises 18 s; collect's share is 5/17 of it.
	expected, share := 18*time.Second, 5.0/17.0
	budget := time.Duration(float64(expected) * share)
	call := func(model string, d time.Duration) {
		m.ConsultationFinished(context.Background(), orchestrator.Summary{Tier: "balanced", Calls: []orchestrator.CallSummary{
			{Stage: orchestrator.StageCollect, Model: model, Latency: d, OK: true},
		}})
	}
	warnings := func() []map[string]any { return withMsg(logs.records(t), "model slower than its tier promises") }

	for range 4 {
		call("m/slow", budget+time.Second)
	}
	if n := len(warnings()); n != 0 {
		t.Fatalf("warned after 4 samples with a minimum of 5 (%d warnings)", n)
	}
	call("m/slow", budget+time.Second)
	w := warnings()
	if len(w) != 1 {
		t.Fatalf("got %d warnings after 5 slow samples, want 1", len(w))
	}
	if w[0]["level"] != "WARN" || w[0]["model"] != "m/slow" || w[0]["stage"] != "collect" || w[0]["tier"] != "balanced" ||
		nanos(w[0]["budget"]) != budget || nanos(w[0]["p90"]) != budget+time.Second {
		t.Errorf("warning = %v", w[0])
	}
	call("m/slow", budget+time.Second)
	if len(warnings()) != 1 {
		t.Fatalf("warned again while still slow")
	}
	snap := m.Stats()
	if !snap.Models[0].OverBudget || snap.Models[0].Budget != budget || snap.Models[0].Tier != "balanced" {
		t.Errorf("stats = %+v, want over budget %v", snap.Models[0], budget)
	}
	for range 10 {
		call("m/slow", budget/2)
	}
	if m.Stats().Models[0].OverBudget {
		t.Errorf("still over budget after 10 fast samples")
	}
	for range 10 {
		call("m/slow", budget+2*time.Second)
	}
	if len(warnings()) != 2 {
		t.Errorf("got %d warnings, want a second one after recovering and slowing again", len(warnings()))
	}
	for range 20 {
		call("m/fast", budget)
	}
	for _, r := range warnings() {
		if r["model"] == "m/fast" {
			t.Errorf("warned for a model exactly at its budget")
		}
	}
}

func TestMonitorLogTier(t *testing.T) {
	t.Parallel()
	var logs logCapture
	m := New(WithLogger(logs.logger()))
	tier, _ := orchestrator.LookupTier("speed")
	m.LogTier(tier)
	recs := withMsg(logs.records(t), "council tier")
	if len(recs) != 1 {
		t.Fatalf("got %d tier lines", len(recs))
	}
	r := recs[0]
	council, _ := r["council"].([]any)
	if r["tier"] != "speed" || r["chairman"] != tier.Chairman || len(council) != len(tier.Council) ||
		nanos(r["expected_latency"]) != tier.ExpectedLatency || r["cost_per_query_usd"] != tier.CostPerQuery {
		t.Errorf("tier line = %v", r)
	}
	b, _ := r["call_budget"].(map[string]any)
	sum := nanos(b["collect"]) + nanos(b["review"]) + nanos(b["synthesize"])
	if diff := tier.ExpectedLatency - sum; diff < 0 || diff > 3 {
		t.Errorf("budgets %v add up to %v, want %v", b, sum, tier.ExpectedLatency)
	}
	if nanos(b["synthesize"]) <= nanos(b["collect"]) {
		t.Errorf("synthesis budget %v not above collect budget %v", b["synthesize"], b["collect"])
	}
}

func TestMonitorMetrics(t *testing.T) {
	t.Parallel()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	m := New(WithLogger(slog.New(slog.DiscardHandler)), WithMeterProvider(mp))
	m.ConsultationFinished(context.Background(), orchestrator.Summary{Tier: "speed", Caller: "token-1", Duration: 9 * time.Second, StageDurations: map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect: 3 * time.Second, orchestrator.StageReview: 2 * time.Second, orchestrator.StageSynthesize: 4 * time.Second,
	}, Calls: []orchestrator.CallSummary{
		{Stage: orchestrator.StageCollect, Model: "a", OK: true, CostUSD: 0.25, EstimateUSD: 1},
		{Stage: orchestrator.StageCollect, Model: "a", OK: true, CostUSD: 0.5, EstimateUSD: 1},
		{Stage: orchestrator.StageCollect, Model: "b", OK: false, EstimateUSD: 1},
	}})
	m.ConsultationFinished(context.Background(), orchestrator.Summary{Tier: "speed", Duration: time.Second, Err: orchestrator.ErrQuorumNotMet,
		StageDurations: map[orchestrator.Stage]time.Duration{orchestrator.StageCollect: time.Second}})

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatalf("collect: %v", err)
	}
	ms := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != InstrumentationName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, InstrumentationName)
		}
		for _, m := range sm.Metrics {
			ms[m.Name] = m
		}
	}
	points := func(name string) []metricdata.HistogramDataPoint[float64] {
		h, ok := ms[name].Data.(metricdata.Histogram[float64])
		if !ok {
			t.Fatalf("%s: data is %T, want Histogram[float64]", name, ms[name].Data)
		}
		return h.DataPoints
	}
	attr := func(set attribute.Set, key string) string {
		v, _ := set.Value(attribute.Key(key))
		return v.Emit()
	}

	got := map[string]float64{}
	for _, dp := range points(MetricConsultationDuration) {
		got["consultation|"+attr(dp.Attributes, "council.tier")+"|"+attr(dp.Attributes, "council.outcome")] += dp.Sum
	}
	for _, dp := range points(MetricStageDuration) {
		got["stage|"+attr(dp.Attributes, "council.tier")+"|"+attr(dp.Attributes, "council.stage")] += dp.Sum
	}
	want := map[string]float64{
		"consultation|speed|ok":             9,
		"consultation|speed|quorum_not_met": 1,
		"stage|speed|collect":               4,
		"stage|speed|review":                2,
		"stage|speed|synthesize":            4,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("histogram sums = %v, want %v", got, want)
	}
	sum, ok := ms[MetricCost].Data.(metricdata.Sum[float64])
	if !ok || len(sum.DataPoints) != 1 || sum.DataPoints[0].Value != 0.75 ||
		attr(sum.DataPoints[0].Attributes, "council.model") != "a" || attr(sum.DataPoints[0].Attributes, "council.caller") != "token-1" ||
		attr(sum.DataPoints[0].Attributes, "council.stage") != "collect" || attr(sum.DataPoints[0].Attributes, "council.tier") != "speed" {
		t.Errorf("%s = %+v", MetricCost, ms[MetricCost].Data)
	}
	if r := points(MetricCostEstimateRatio); len(r) != 1 || r[0].Count != 2 || r[0].Sum != 0.75 {
		t.Errorf("%s = %+v", MetricCostEstimateRatio, r)
	}
	if !strings.HasSuffix(ms[MetricStageDuration].Unit, "s") {
		t.Errorf("unit = %q", ms[MetricStageDuration].Unit)
	}
}
