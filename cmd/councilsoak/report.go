package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/quantile"
)

// goroutineSlack is how many more goroutines councild may count at the end
// than at the start before the soak calls it a leak (runtime and
// connection goroutines come and go).
const goroutineSlack = 5

// injectedCount is how often the upstream injected one fault.
type injectedCount struct {
	name  string
	count int64
}

// report is the outcome of a soak.
type report struct {
	cfg              config
	window, elapsed  time.Duration
	started          int
	completed        int
	degraded         int
	cutOff           int
	shed             int
	peak             int
	failed           map[string]int
	expected         int
	unexplained      map[string]int
	modelFailures    map[failureKey]int
	problems         int
	examples         []string
	latencies        []time.Duration
	upstreamRequests int64
	injected         []injectedCount
	outbound         outboundCounts
	logLeaks         []string
	disconnectErr    error
	stopErr          error

	start, mid, end sample
}

// percentile returns the p-th nearest-rank percentile of the sorted
// completed latencies, rounded to the millisecond.
func (r *report) percentile(p float64) time.Duration {
	return quantile.Sorted(r.latencies, p).Round(time.Millisecond)
}

// byCount formats counts as "key n, key n", largest first.
func byCount[K cmp.Ordered](m map[K]int64, name func(K) string) string {
	keys := slices.SortedFunc(maps.Keys(m), func(a, b K) int {
		if c := cmp.Compare(m[b], m[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", name(k), m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sum[K comparable, V int | int64](m map[K]V) V {
	var n V
	for _, v := range m {
		n += v
	}
	return n
}

func kb(b int64) string { return fmt.Sprintf("%d kB", b>>10) }

func same(s string) string { return s }

// print writes the report.
func (r *report) print(w io.Writer) {
	var faults int64
	var kinds []string
	for _, f := range r.injected {
		faults += f.count
		kinds = append(kinds, fmt.Sprintf("%s %d", f.name, f.count))
	}
	pct := func(n, of int64) float64 {
		if of == 0 {
			return 0
		}
		return 100 * float64(n) / float64(of)
	}
	fmt.Fprintf(w, "councilsoak: %d concurrent consultations for %v against councild (its own process) and the fake upstream on loopback, %.1f%% injected faults\n",
		r.cfg.concurrency, r.cfg.duration, 100*r.cfg.faultRate)
	fmt.Fprintf(w, "  run:                         %v of new consultations, %v in all (tail included); peak in flight %d\n",
		r.window.Round(time.Millisecond), r.elapsed.Round(time.Millisecond), r.peak)
	fmt.Fprintf(w, "  consultations started:       %d (%.1f/s)\n", r.started, float64(r.started)/r.elapsed.Seconds())
	fmt.Fprintf(w, "  completed:                   %d, of which degraded %d\n", r.completed, r.degraded)
	fmt.Fprintf(w, "  failed by status:            %d", sum(r.failed))
	for _, k := range slices.Sorted(maps.Keys(r.failed)) {
		fmt.Fprintf(w, "; %s %d", k, r.failed[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  expected from the faults:    %d (the faults each consultation drew are enough to fail it)\n", r.expected)
	fmt.Fprintf(w, "  failed, not explained:       %d", sum(r.unexplained))
	for _, k := range slices.Sorted(maps.Keys(r.unexplained)) {
		fmt.Fprintf(w, "; %s %d", k, r.unexplained[k])
	}
	fmt.Fprintln(w)
	if r.shed > 0 {
		fmt.Fprintf(w, "  refused at admission:        %d\n", r.shed)
	}
	if r.cutOff > 0 {
		fmt.Fprintf(w, "  cut off at the end:          %d (still running %v after the duration)\n", r.cutOff, tailTimeout)
	}
	r.printModelFailures(w)
	if r.outbound.err != nil {
		fmt.Fprintf(w, "  outbound counters:           unavailable: %v\n", r.outbound.err)
	} else {
		fmt.Fprintf(w, "  cooldowns started:           %d: %s\n", sum(r.outbound.cooldowns), byCount(r.outbound.cooldowns, same))
		fmt.Fprintf(w, "  retryable failures not retried: %d: %s\n", sum(r.outbound.retryStops), byCount(r.outbound.retryStops, same))
		fmt.Fprintf(w, "  attempts held back:          %d: %s (in_flight: queued for the in-flight cap)\n", sum(r.outbound.waits), byCount(r.outbound.waits, same))
	}
	fmt.Fprintf(w, "  errors that should not happen: %d\n", r.problems+len(r.logLeaks))
	for _, e := range r.examples {
		fmt.Fprintf(w, "    - %s\n", e)
	}
	for _, e := range r.logLeaks {
		fmt.Fprintf(w, "    - upstream text %q in councild's log\n", e)
	}
	fmt.Fprintf(w, "  completed latency:           p50 %v, p95 %v, p99 %v, max %v\n",
		r.percentile(50), r.percentile(95), r.percentile(99), r.percentile(100))
	fmt.Fprintf(w, "  upstream requests:           %d, faults injected %d (%.2f%%): %s\n",
		r.upstreamRequests, faults, pct(faults, r.upstreamRequests), strings.Join(kinds, ", "))
	fmt.Fprintf(w, "  councild goroutines:         start %d, at the end of the duration %d, end %d\n",
		r.start.goroutines, r.mid.goroutines, r.end.goroutines)
	fmt.Fprintf(w, "  councild memory (VmRSS):     start %s, at the end of the duration %s, end %s; peak (VmHWM) %s\n",
		kb(r.start.rss), kb(r.mid.rss), kb(r.end.rss), kb(r.end.hwm))
	for _, err := range []error{r.disconnectErr, r.stopErr} {
		if err != nil {
			fmt.Fprintf(w, "  teardown: %v\n", err)
		}
	}
}

// stageNames are the short names of the stages in the report.
var stageNames = map[councilv1.Stage]string{
	councilv1.Stage_STAGE_COLLECT:    "collect",
	councilv1.Stage_STAGE_REVIEW:     "review",
	councilv1.Stage_STAGE_SYNTHESIZE: "synthesize",
}

// printModelFailures writes the ModelFailed events by stage, reason and
// model.
func (r *report) printModelFailures(w io.Writer) {
	type sr struct {
		stage  councilv1.Stage
		reason councilv1.ModelFailed_Reason
	}
	groups := map[sr]map[string]int64{}
	for k, n := range r.modelFailures {
		g := groups[sr{k.stage, k.reason}]
		if g == nil {
			g = map[string]int64{}
			groups[sr{k.stage, k.reason}] = g
		}
		g[k.model] += int64(n)
	}
	fmt.Fprintf(w, "  model failures (ModelFailed): %d\n", sum(r.modelFailures))
	keys := slices.SortedFunc(maps.Keys(groups), func(a, b sr) int {
		return cmp.Or(cmp.Compare(a.stage, b.stage), cmp.Compare(sum(groups[b]), sum(groups[a])))
	})
	for _, k := range keys {
		reason := strings.TrimPrefix(k.reason.String(), "REASON_")
		fmt.Fprintf(w, "    %-10s %-15s %5d: %s\n", stageNames[k.stage], reason, sum(groups[k]), byCount(groups[k], same))
	}
}

// verdict fails when an error that should not happen occurred, councild
// leaked goroutines, or it did not shut down cleanly.
func (r *report) verdict() error {
	var errs []error
	if n := r.problems + len(r.logLeaks); n > 0 {
		errs = append(errs, fmt.Errorf("%d errors that should not happen", n))
	}
	switch {
	case r.start.goroutines < 0 || r.end.goroutines < 0:
		errs = append(errs, errors.New("councild's goroutines could not be read"))
	case r.end.goroutines > r.start.goroutines+goroutineSlack:
		errs = append(errs, fmt.Errorf("councild leaked goroutines: %d at the start, %d at the end", r.start.goroutines, r.end.goroutines))
	}
	return errors.Join(append(errs, r.disconnectErr, r.stopErr)...)
}
