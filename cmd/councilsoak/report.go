package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/councilhq/council/internal/quantile"
)

// goroutineSlack is how many more goroutines than at the start the end may
// count before the soak calls it a leak (runtime and signal goroutines
// come and go).
const goroutineSlack = 5

// memory is the process's resident memory as /proc/self/status reports
// it; empty where that file does not exist.
type memory struct {
	rss, hwm string
}

// readMemory reads VmRSS and VmHWM from /proc/self/status.
func readMemory() memory {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return memory{rss: "n/a", hwm: "n/a"}
	}
	defer f.Close()
	var m memory
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch k {
		case "VmRSS":
			m.rss = strings.TrimSpace(v)
		case "VmHWM":
			m.hwm = strings.TrimSpace(v)
		}
	}
	return m
}

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
	peak             int
	failed           map[string]int
	problems         int
	examples         []string
	latencies        []time.Duration
	upstreamRequests int64
	injected         []injectedCount
	teardownErr      error

	startGoroutines, midGoroutines, endGoroutines int
	startMem, midMem, endMem                      memory
}

// percentile returns the p-th nearest-rank percentile of the sorted
// latencies, rounded to the millisecond.
func (r *report) percentile(p float64) time.Duration {
	return quantile.Sorted(r.latencies, p).Round(time.Millisecond)
}

// print writes the report.
func (r *report) print(w io.Writer) {
	var faults int64
	var kinds []string
	for _, f := range r.injected {
		faults += f.count
		kinds = append(kinds, fmt.Sprintf("%s %d", f.name, f.count))
	}
	failedTotal := 0
	for _, n := range r.failed {
		failedTotal += n
	}
	pct := func(n, of int64) float64 {
		if of == 0 {
			return 0
		}
		return 100 * float64(n) / float64(of)
	}
	fmt.Fprintf(w, "councilsoak: %d concurrent consultations for %v against the fake upstream on loopback, %.1f%% injected faults\n",
		r.cfg.concurrency, r.cfg.duration, 100*r.cfg.faultRate)
	fmt.Fprintf(w, "  run:                         %v of new consultations, %v in all (tail included); peak in flight %d\n",
		r.window.Round(time.Millisecond), r.elapsed.Round(time.Millisecond), r.peak)
	fmt.Fprintf(w, "  consultations started:       %d (%.1f/s)\n", r.started, float64(r.started)/r.elapsed.Seconds())
	fmt.Fprintf(w, "  completed:                   %d, of which degraded %d\n", r.completed, r.degraded)
	fmt.Fprintf(w, "  failed by status:            %d", failedTotal)
	for _, k := range slices.Sorted(maps.Keys(r.failed)) {
		fmt.Fprintf(w, "; %s %d", k, r.failed[k])
	}
	fmt.Fprintln(w)
	if r.cutOff > 0 {
		fmt.Fprintf(w, "  cut off at the end:          %d (still running %v after the duration)\n", r.cutOff, tailTimeout)
	}
	fmt.Fprintf(w, "  errors that should not happen: %d\n", r.problems)
	for _, e := range r.examples {
		fmt.Fprintf(w, "    - %s\n", e)
	}
	fmt.Fprintf(w, "  completed latency:           p50 %v, p95 %v, p99 %v, max %v\n",
		r.percentile(50), r.percentile(95), r.percentile(99), r.percentile(100))
	fmt.Fprintf(w, "  upstream requests:           %d, faults injected %d (%.2f%%): %s\n",
		r.upstreamRequests, faults, pct(faults, r.upstreamRequests), strings.Join(kinds, ", "))
	fmt.Fprintf(w, "  goroutines:                  start %d, at the end of the duration %d, end %d\n",
		r.startGoroutines, r.midGoroutines, r.endGoroutines)
	fmt.Fprintf(w, "  resident memory (VmRSS):     start %s, at the end of the duration %s, end %s; peak (VmHWM) %s\n",
		r.startMem.rss, r.midMem.rss, r.endMem.rss, r.endMem.hwm)
	if r.teardownErr != nil {
		fmt.Fprintf(w, "  teardown: %v\n", r.teardownErr)
	}
}

// verdict fails when an error that should not happen occurred, goroutines
// leaked or the stack did not shut down cleanly.
func (r *report) verdict() error {
	var errs []error
	if r.problems > 0 {
		errs = append(errs, fmt.Errorf("%d errors that should not happen", r.problems))
	}
	if r.endGoroutines > r.startGoroutines+goroutineSlack {
		errs = append(errs, fmt.Errorf("goroutines leaked: %d at the start, %d at the end", r.startGoroutines, r.endGoroutines))
	}
	if r.teardownErr != nil {
		errs = append(errs, r.teardownErr)
	}
	return errors.Join(errs...)
}
