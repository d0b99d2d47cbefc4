package bench

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// WriteReport writes r as Markdown: the setup, the critical path, a table
// per concurrency level and the server's memory and throughput.
func WriteReport(w io.Writer, r *Result) error {
	var b strings.Builder
	p, path := r.Profile, r.Path
	lat := make([]string, len(p.Council))
	for i, m := range p.Council {
		lat[i] = ms(m.Latency)
	}
	fmt.Fprintf(&b, "Fake upstream: council models answering in %s, chairman in %s; first token after %s",
		strings.Join(lat, ", "), ms(p.Chairman.Latency), ms(p.Chairman.TTFT))
	if p.Chunks > 0 {
		fmt.Fprintf(&b, "; each answer streamed in %d chunks", p.Chunks)
	}
	b.WriteString(".\n")
	fmt.Fprintf(&b, "Critical path with the early transition (%d of %d rankings): %s slowest answer + %s %s ranking + %s chairman = **%s**; first words of the final answer at %s.\n\n",
		path.Rankings, path.Reviewers, ms(path.Collect), ms(path.Review), ordinal(path.Rankings), ms(path.Synthesize), ms(path.Total()), ms(path.ToFirstText()))

	s := r.Single.Latency
	fmt.Fprintf(&b, "| Single consultation | p50 | p99 |\n|---|---:|---:|\n")
	fmt.Fprintf(&b, "| Measured | %s | %s |\n", ms(s.P50), ms(s.P99))
	fmt.Fprintf(&b, "| Overhead over the critical path | %s (%s) | %s (%s) |\n\n",
		signed(s.P50-path.Total()), percent(s.P50, path.Total()), signed(s.P99-path.Total()), percent(s.P99, path.Total()))

	b.WriteString("| Concurrent | Consultations | p50 | p99 | p50 ratio | p99 ratio | First event p99 | First words p50 | Emit delay p50 | Emit delay p99 | Of which in councild p99 | Call overhead p99 | Upstream late p99 | Dials per call | Messages per consultation | councild CPU per consultation | councild read syscalls per consultation | Errors |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, l := range append([]Level{r.Single}, r.Levels...) {
		fmt.Fprintf(&b, "| %d | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %s | %s | %d |\n",
			l.Concurrency, l.Latency.N+l.Errors, ms(l.Latency.P50), ms(l.Latency.P99),
			ratio(l.Latency.P50, s.P50), ratio(l.Latency.P99, s.P99),
			ms(l.FirstEvent.P99), ms(l.FirstText.P50), ms(l.EmitDelay.P50), ms(l.EmitDelay.P99), ms(l.ServerEmitDelay.P99),
			ms(l.CallOverhead.P99), ms(l.UpstreamLate.P99), perCall(l.Dials, l.Calls), l.Messages, cpuPer(l), syscallsPer(l), l.Errors)
	}
	b.WriteString("\n| Server | Value |\n|---|---:|\n")
	if m := r.Memory; m != nil {
		fmt.Fprintf(&b, "| Peak resident memory at %d concurrent (before: %s) | %s |\n", m.Concurrency, mib(m.Before), mib(m.Peak))
		if m.GoroutinesPeak > 0 {
			fmt.Fprintf(&b, "| Peak goroutines at %d concurrent (before: %d) | %d (%.1f per consultation) |\n",
				m.Concurrency, m.GoroutinesBefore, m.GoroutinesPeak, m.GoroutinesPerConsultation())
		}
	}
	if t := r.Throughput; t != nil {
		fmt.Fprintf(&b, "| Consultations per second, zero-latency upstream, %d clients | %.0f |\n", t.Workers, t.PerSecond())
		if t.Consultations > 0 {
			if t.ServerCPU > 0 {
				fmt.Fprintf(&b, "| councild CPU time per consultation (zero-latency run) | %s |\n", ms(t.ServerCPU/time.Duration(t.Consultations)))
			}
			fmt.Fprintf(&b, "| Benchmark client and fake upstream CPU time per consultation | %s |\n", ms(t.BenchCPU/time.Duration(t.Consultations)))
		}
	}
	if g := r.Orchestrator; g != nil {
		fmt.Fprintf(&b, "| Orchestrator alone (%s): time per consultation | %s |\n", g.Name, ms(time.Duration(g.NsPerOp)))
		fmt.Fprintf(&b, "| Orchestrator alone: allocations per consultation | %d (%.0f KiB) |\n", g.AllocsPerOp, float64(g.BytesPerOp)/1024)
	}

	var notes []string
	for _, l := range append([]Level{r.Single}, r.Levels...) {
		if l.Errors > 0 {
			notes = append(notes, fmt.Sprintf("%d of %d consultations at %d concurrent failed; first error: %s", l.Errors, l.Latency.N+l.Errors, l.Concurrency, l.FirstError))
		}
		// Reviews cancelled because the final answer was ready first are
		// the early transition at work, not a problem.
		if l.Failures > l.FailureReasons["canceled"] || l.Degraded > 0 || l.Unmatched > 0 {
			notes = append(notes, fmt.Sprintf("at %d concurrent: %d model failures%s, %d degraded consultations, %d events without an upstream time",
				l.Concurrency, l.Failures, reasons(l.FailureReasons), l.Degraded, l.Unmatched))
		}
	}
	if t := r.Throughput; t != nil && t.Errors > 0 {
		notes = append(notes, fmt.Sprintf("%d consultations of the throughput run failed", t.Errors))
	}
	if len(notes) > 0 {
		b.WriteString("\nProblems:\n")
		for _, n := range notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ms formats d in milliseconds, with more digits below 100 ms.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v < 10 && v > -10:
		return fmt.Sprintf("%.2f ms", v)
	case v < 100 && v > -100:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.0f ms", v)
}

// signed formats d in milliseconds with its sign.
func signed(d time.Duration) string {
	if d >= 0 {
		return "+" + ms(d)
	}
	return ms(d)
}

// percent formats (d-base)/base as a signed percentage.
func percent(d, base time.Duration) string {
	if base <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*float64(d-base)/float64(base))
}

// ratio formats d/base as a percentage.
func ratio(d, base time.Duration) string {
	if base <= 0 || d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(d)/float64(base))
}

// reasons formats failure counts by reason, like " (canceled 2, timeout 1)".
func reasons(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// perCall formats dials/calls.
func perCall(dials, calls int64) string {
	if calls <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(dials)/float64(calls))
}

// syscallsPer formats the server's read system calls per consultation of
// l, or "n/a".
func syscallsPer(l Level) string {
	if n := l.ReadSyscallsPerConsultation(); n >= 0 {
		return fmt.Sprintf("%.0f", n)
	}
	return "n/a"
}

// cpuPer formats the server's CPU time per consultation of l, or "n/a".
func cpuPer(l Level) string {
	if d := l.CPUPerConsultation(); d > 0 {
		return ms(d)
	}
	return "n/a"
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// ordinal returns "1st", "2nd", "3rd", "4th", …
func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return fmt.Sprintf("%d%s", n, suffix)
}
