package main

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Marks of the waterfall. Each is one column wide.
const (
	markSpan     = '█' // the span ran
	markFailed   = '▒' // the span ran and failed
	markWait     = '░' // the call waited for a rate limit
	markRetry    = 'R' // a failed attempt was retried
	markStop     = '!' // retries stopped (budget, deadline, limit)
	markCooldown = 'C' // the model was skipped, cooling down
)

// Span event names and attributes the waterfall reads (package telemetry).
const (
	eventRetry         = "council.retry"
	eventRetryStop     = "council.retry.stop"
	eventRateLimitWait = "council.ratelimit.wait"
	eventCooldown      = "council.cooldown"
	eventCooldownStart = "council.cooldown.start"
)

// waterfall draws a trace: a line per span, children under their parent in
// the order they started, each a bar on one time axis with its retries,
// waits and failure marked, and its duration and notes on the right.
type waterfall struct {
	// width is the drawing's width in columns.
	width int
	// color paints failures red and waits yellow.
	color bool
}

// row is one span of the drawing.
type row struct {
	span  jaegerSpan
	depth int
}

// draw writes the waterfall of tr to w.
func (wf waterfall) draw(w io.Writer, tr jaegerTrace) error {
	rows := spanRows(tr.Spans)
	t0, t1 := int64(math.MaxInt64), int64(math.MinInt64)
	for _, r := range rows {
		t0 = min(t0, r.span.StartTime)
		t1 = max(t1, r.span.StartTime+r.span.Duration)
	}
	total := max(t1-t0, 1)

	labelW := 0
	for _, r := range rows {
		labelW = max(labelW, 2*r.depth+len([]rune(r.span.OperationName)))
	}
	labelW = min(labelW, 44)
	barW := max(wf.width-labelW-3-28, 20)
	col := func(us int64) int { return int(float64(us-t0) / float64(total) * float64(barW)) }

	var b strings.Builder
	fmt.Fprintf(&b, "trace %s", tr.TraceID)
	if id := consultationID(tr); id != "" {
		fmt.Fprintf(&b, "  consultation %s", id)
	}
	if svc := serviceOf(tr); svc != "" {
		fmt.Fprintf(&b, "  service %s", svc)
	}
	fmt.Fprintf(&b, "\nstarted %s, %s, %d spans\n\n", time.UnixMicro(t0).UTC().Format(time.RFC3339Nano), fmtMicros(total), len(rows))
	b.WriteString(strings.Repeat(" ", labelW+2) + axis(total, barW) + "\n")

	for _, r := range rows {
		s := r.span
		label := strings.Repeat("  ", r.depth) + s.OperationName
		if n := len([]rune(label)); n > labelW {
			label = string([]rune(label)[:labelW-1]) + "…"
		}
		bar := []rune(strings.Repeat(" ", barW))
		c0 := min(col(s.StartTime), barW-1)
		c1 := max(c0+1, min(barW, int(math.Ceil(float64(s.StartTime+s.Duration-t0)/float64(total)*float64(barW)))))
		failed, why := spanFailed(s)
		fill := markSpan
		if failed {
			fill = markFailed
		}
		for i := c0; i < c1; i++ {
			bar[i] = fill
		}
		var notes []string
		if n, ok := tag(s.Tags, "council.attempts"); ok && n != "1" && n != "0" {
			notes = append(notes, n+" attempts")
		}
		for _, l := range s.Logs {
			name, _ := tag(l.Fields, "event")
			c := min(max(col(l.Timestamp), 0), barW-1)
			delay := int64(0)
			if d, ok := tag(l.Fields, "council.delay_ms"); ok {
				if ms, err := strconv.ParseFloat(d, 64); err == nil {
					delay = int64(ms * 1000)
				}
			}
			switch name {
			case eventRetry:
				bar[c] = markRetry
				cause, _ := tag(l.Fields, "error.type")
				notes = append(notes, "retry after "+cause)
			case eventRetryStop:
				bar[c] = markStop
				reason, _ := tag(l.Fields, "council.reason")
				notes = append(notes, "retries stopped: "+reason)
			case eventRateLimitWait:
				end := min(max(col(l.Timestamp+delay), c+1), barW)
				for i := c; i < end; i++ {
					bar[i] = markWait
				}
				reason, _ := tag(l.Fields, "council.reason")
				notes = append(notes, fmt.Sprintf("waited %s (%s)", fmtMicros(delay), reason))
			case eventCooldown, eventCooldownStart:
				bar[c] = markCooldown
				if name == eventCooldown {
					notes = append(notes, "skipped: cooling down")
				} else {
					notes = append(notes, "cooldown started")
				}
			}
		}
		if failed {
			notes = append(notes, "failed: "+why)
		}
		fmt.Fprintf(&b, "%-*s  %s  %8s", labelW, label, wf.paint(string(bar)), fmtMicros(s.Duration))
		if len(notes) > 0 {
			b.WriteString("  " + wf.paintNotes(strings.Join(notes, "; "), failed))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "\n%c ran  %c failed  %c waited for a rate limit  %c retry  %c retries stopped  %c cooling down\n",
		markSpan, markFailed, markWait, markRetry, markStop, markCooldown)
	_, err := io.WriteString(w, b.String())
	return err
}

// paint colours a bar's marks when colour is on.
func (wf waterfall) paint(bar string) string {
	if !wf.color {
		return bar
	}
	var b strings.Builder
	for _, r := range bar {
		switch r {
		case markFailed, markStop:
			b.WriteString(ansiRed + string(r) + ansiReset)
		case markWait, markRetry, markCooldown:
			b.WriteString(ansiYellow + string(r) + ansiReset)
		case markSpan:
			b.WriteString(ansiCyan + string(r) + ansiReset)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// paintNotes colours a span's notes red when it failed.
func (wf waterfall) paintNotes(notes string, failed bool) string {
	if !wf.color || !failed {
		return notes
	}
	return ansiRed + notes + ansiReset
}

// spanRows orders spans as a tree: roots (spans whose parent is not in the
// trace) first, each followed by its children, siblings by start time.
func spanRows(spans []jaegerSpan) []row {
	byID := make(map[string]bool, len(spans))
	for _, s := range spans {
		byID[s.SpanID] = true
	}
	children := map[string][]jaegerSpan{}
	var roots []jaegerSpan
	for _, s := range spans {
		p := parentID(s)
		if p == "" || !byID[p] || p == s.SpanID {
			roots = append(roots, s)
		} else {
			children[p] = append(children[p], s)
		}
	}
	byStart := func(ss []jaegerSpan) {
		sort.SliceStable(ss, func(i, j int) bool {
			if ss[i].StartTime != ss[j].StartTime {
				return ss[i].StartTime < ss[j].StartTime
			}
			return ss[i].OperationName < ss[j].OperationName
		})
	}
	var out []row
	var walk func(s jaegerSpan, depth int)
	walk = func(s jaegerSpan, depth int) {
		out = append(out, row{span: s, depth: depth})
		kids := children[s.SpanID]
		byStart(kids)
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	byStart(roots)
	for _, r := range roots {
		walk(r, 0)
	}
	return out
}

// parentID is the span's CHILD_OF parent, or else its first reference.
func parentID(s jaegerSpan) string {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" {
			return r.SpanID
		}
	}
	if len(s.References) > 0 {
		return s.References[0].SpanID
	}
	return ""
}

// spanFailed reports whether a span ended in error, and why: its error.type,
// else its status description, else "error".
func spanFailed(s jaegerSpan) (bool, string) {
	code, _ := tag(s.Tags, "otel.status_code")
	errTag, _ := tag(s.Tags, "error")
	if code != "ERROR" && errTag != "true" {
		return false, ""
	}
	if t, ok := tag(s.Tags, "error.type"); ok && t != "" {
		return true, t
	}
	if d, ok := tag(s.Tags, "otel.status_description"); ok && d != "" {
		return true, d
	}
	return true, "error"
}

// consultationID is the consultation id some span of tr carries.
func consultationID(tr jaegerTrace) string {
	for _, s := range tr.Spans {
		if id, ok := tag(s.Tags, consultationIDTag); ok {
			return id
		}
	}
	return ""
}

// serviceOf is the service of the trace's first span.
func serviceOf(tr jaegerTrace) string {
	if len(tr.Spans) == 0 {
		return ""
	}
	return tr.Processes[tr.Spans[0].ProcessID].ServiceName
}

// axis is the time axis over barW columns for a trace of total
// microseconds: tick labels at round times.
func axis(total int64, barW int) string {
	step := tickStep(total, barW)
	line := []rune(strings.Repeat(" ", barW+10))
	for t := int64(0); t <= total; t += step {
		c := int(float64(t) / float64(total) * float64(barW))
		label := "|" + fmtMicros(t)
		if c+len(label) > len(line) {
			break
		}
		copy(line[c:], []rune(label))
	}
	return strings.TrimRight(string(line), " ")
}

// tickStep is a round step (1, 2 or 5 times a power of ten, in
// microseconds) that puts a tick every 12 columns or more.
func tickStep(total int64, barW int) int64 {
	want := float64(total) * 12 / float64(max(barW, 1))
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{1, 2, 5} {
			if float64(m*p) >= want {
				return m * p
			}
		}
	}
}

// fmtMicros writes a duration of us microseconds as a person would read it:
// 850µs, 12ms, 1.25s.
func fmtMicros(us int64) string {
	d := time.Duration(us) * time.Microsecond
	switch {
	case d == 0:
		return "0s"
	case d < time.Millisecond:
		return d.String()
	case d < 10*time.Millisecond:
		return strconv.FormatFloat(math.Round(float64(d)/float64(time.Millisecond)*10)/10, 'f', -1, 64) + "ms"
	case d < time.Second:
		return strconv.FormatInt(int64(math.Round(float64(d)/float64(time.Millisecond))), 10) + "ms"
	case d < time.Minute:
		return strconv.FormatFloat(math.Round(d.Seconds()*100)/100, 'f', -1, 64) + "s"
	}
	return d.Round(time.Second).String()
}
