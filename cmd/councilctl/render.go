package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// eventPrinter prints the events of one Consult stream.
type eventPrinter interface {
	// print prints one event.
	print(r *councilv1.ConsultResponse) error
	// end is called once when the stream ends successfully.
	end() error
	// fail is called instead of end when the stream ends with an error.
	fail() error
}

// jsonPrinter prints each event as one line of protobuf JSON.
type jsonPrinter struct{ w io.Writer }

func (p *jsonPrinter) print(r *councilv1.ConsultResponse) error {
	b, err := protojson.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(p.w, "%s\n", b)
	return err
}

func (p *jsonPrinter) end() error  { return nil }
func (p *jsonPrinter) fail() error { return nil }

// answerPrinter prints the progress of the consultation on one writer and,
// once the stream has ended successfully, the final answer alone on
// another, so that a script can take the answer from stdout.
type answerPrinter struct {
	progress textPrinter
	w        io.Writer
	answer   string
}

func (p *answerPrinter) print(r *councilv1.ConsultResponse) error {
	if fa := r.GetFinalAnswer(); fa != nil {
		p.answer = fa.GetContent()
	}
	return p.progress.print(r)
}

func (p *answerPrinter) end() error {
	if err := p.progress.end(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(p.w, strings.TrimRight(p.answer, "\n"))
	return err
}

func (p *answerPrinter) fail() error { return p.progress.end() }

// textPrinter prints a line per event and streams the chairman's text
// inline. Lines of events that arrive while the text is streaming (late
// rankings, say) are held back until the text ends, so it reads unbroken.
type textPrinter struct {
	w   io.Writer
	err error
	// color marks stages, failures and the outcome with ANSI colours.
	color bool
	// quiet leaves out the chairman's text, which is printed elsewhere.
	quiet bool

	writer   string          // model whose text is streaming, if any
	streamed strings.Builder // its text so far
	held     []string        // lines held back while it streams
}

func (p *textPrinter) print(r *councilv1.ConsultResponse) error {
	if d, ok := r.GetEvent().(*councilv1.ConsultResponse_SynthesisDelta); ok {
		p.delta(d.SynthesisDelta)
		return p.err
	}
	line := p.paint(r, p.line(r))
	switch r.GetEvent().(type) {
	case *councilv1.ConsultResponse_FinalAnswer, *councilv1.ConsultResponse_ModelFailed:
		if p.writer != "" && (r.GetFinalAnswer().GetModel() == p.writer || r.GetModelFailed().GetModel() == p.writer) {
			p.endText()
		}
	}
	if p.writer != "" {
		p.held = append(p.held, line)
	} else {
		p.printf("%s\n", line)
	}
	if fa := r.GetFinalAnswer(); fa != nil && !p.quiet && fa.GetContent() != p.streamed.String() {
		// The text seen so far is not the answer (nothing streamed, or a
		// fallback chairman started over): show the answer itself.
		p.printf("\n%s\n\n", strings.TrimRight(fa.GetContent(), "\n"))
	}
	return p.err
}

func (p *textPrinter) end() error {
	p.endText()
	return p.err
}

func (p *textPrinter) fail() error { return p.end() }

// delta streams a piece of the chairman's text.
func (p *textPrinter) delta(d *councilv1.SynthesisDelta) {
	if d.GetModel() != p.writer {
		p.endText()
		p.writer = d.GetModel()
		p.streamed.Reset()
		if p.quiet {
			p.printf("%s %s is writing the final answer\n", p.paintTag("[synthesize]"), d.GetModel())
		} else {
			p.printf("%s %s is writing the final answer:\n\n", p.paintTag("[synthesize]"), d.GetModel())
		}
	}
	p.streamed.WriteString(d.GetText())
	if !p.quiet {
		p.printf("%s", d.GetText())
	}
}

// endText ends the streaming text, if any, and prints the held lines.
func (p *textPrinter) endText() {
	if p.writer == "" {
		return
	}
	p.writer = ""
	if !p.quiet {
		p.printf("\n\n")
	}
	for _, l := range p.held {
		p.printf("%s\n", l)
	}
	p.held = nil
}

func (p *textPrinter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

// ANSI colours of the text output.
const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// paint colours an event's line when colour is on: failures red, the
// answer and a clean completion green, a degraded one yellow, the stage
// tag cyan.
func (p *textPrinter) paint(r *councilv1.ConsultResponse, line string) string {
	if !p.color {
		return line
	}
	switch r.GetEvent().(type) {
	case *councilv1.ConsultResponse_ModelFailed:
		return ansiRed + line + ansiReset
	case *councilv1.ConsultResponse_FinalAnswer:
		return ansiGreen + line + ansiReset
	case *councilv1.ConsultResponse_ConsultCompleted:
		if r.GetConsultCompleted().GetDegraded() {
			return ansiBold + ansiYellow + line + ansiReset
		}
		return ansiBold + ansiGreen + line + ansiReset
	case *councilv1.ConsultResponse_ConsultStarted:
		return ansiBold + line + ansiReset
	}
	if tag, rest, ok := strings.Cut(line, "] "); ok && strings.HasPrefix(tag, "[") {
		return p.paintTag(tag+"]") + " " + rest
	}
	return line
}

// paintTag colours a stage tag when colour is on.
func (p *textPrinter) paintTag(tag string) string {
	if !p.color {
		return tag
	}
	return ansiCyan + tag + ansiReset
}

// line describes an event in one line, tagged with the stage the event
// belongs to (a late ranking is a review event, whatever stage the
// consultation has reached).
func (p *textPrinter) line(r *councilv1.ConsultResponse) string {
	tag := func(s councilv1.Stage) string { return "[" + stageName(s) + "] " }
	switch ev := r.GetEvent().(type) {
	case *councilv1.ConsultResponse_ConsultStarted:
		e := ev.ConsultStarted
		s := fmt.Sprintf("consultation %s: tier %s, council %s, chairman %s",
			r.GetConsultationId(), tierName(e.GetTier()), strings.Join(e.GetCouncilModels(), ", "), e.GetChairmanModel())
		if e.GetRequestId() != "" {
			s += ", request " + e.GetRequestId()
		}
		return s
	case *councilv1.ConsultResponse_StageStarted:
		e := ev.StageStarted
		return fmt.Sprintf("%sstarted: %s", tag(e.GetStage()), strings.Join(e.GetModels(), ", "))
	case *councilv1.ConsultResponse_ModelAnswered:
		e := ev.ModelAnswered
		s := fmt.Sprintf("%s%s answered in %s (%s%s)", tag(councilv1.Stage_STAGE_COLLECT), e.GetModel(), dur(e.GetLatency()),
			usage(e.GetUsage()), attempts(e.GetAttempts()))
		if e.GetLate() {
			s += " (late: after the straggler cut-off, not reviewed)"
		}
		return s
	case *councilv1.ConsultResponse_StragglersCut:
		e := ev.StragglersCut
		return fmt.Sprintf("%sstraggler cut-off after %s: going on without %s", tag(councilv1.Stage_STAGE_COLLECT),
			dur(e.GetWaited()), strings.Join(e.GetModels(), ", "))
	case *councilv1.ConsultResponse_ModelRanked:
		e := ev.ModelRanked
		s := fmt.Sprintf("%s%s ranked in %s: %s", tag(councilv1.Stage_STAGE_REVIEW), e.GetReviewerModel(), dur(e.GetLatency()),
			ranking(e.GetRanking()))
		if e.GetLate() {
			s += " (late: not in the aggregate)"
		}
		return s
	case *councilv1.ConsultResponse_ModelFailed:
		e := ev.ModelFailed
		reason := strings.ToLower(strings.TrimPrefix(e.GetReason().String(), "REASON_"))
		return fmt.Sprintf("%s%s failed after %s (%s%s): %s", tag(e.GetStage()), e.GetModel(), dur(e.GetLatency()),
			reason, attempts(e.GetAttempts()), e.GetMessage())
	case *councilv1.ConsultResponse_RankingsAggregated:
		e := ev.RankingsAggregated
		parts := make([]string, 0, len(e.GetEntries()))
		for i, en := range e.GetEntries() {
			rank := "unranked"
			if en.AverageRank != nil {
				rank = fmt.Sprintf("average rank %.2f", en.GetAverageRank())
			}
			parts = append(parts, fmt.Sprintf("%d. %s (%s, %s, %d first)", i+1, en.GetModel(), rank,
				plural(en.GetVotes(), "vote"), en.GetFirstPlaces()))
		}
		return fmt.Sprintf("%saggregate of %s: %s", tag(councilv1.Stage_STAGE_REVIEW), plural(e.GetReviewers(), "ranking"),
			strings.Join(parts, "; "))
	case *councilv1.ConsultResponse_FinalAnswer:
		e := ev.FinalAnswer
		s := fmt.Sprintf("%sfinal answer by %s in %s (%s)", tag(councilv1.Stage_STAGE_SYNTHESIZE), e.GetModel(),
			dur(e.GetLatency()), usage(e.GetUsage()))
		if e.GetFallback() {
			s += ", written by the fallback chairman"
		}
		return s
	case *councilv1.ConsultResponse_StageCompleted:
		e := ev.StageCompleted
		return fmt.Sprintf("%sdone in %s: %d succeeded, %d failed", tag(e.GetStage()), dur(e.GetDuration()),
			e.GetSuccesses(), e.GetFailures())
	case *councilv1.ConsultResponse_BudgetApplied:
		return tag(ev.BudgetApplied.GetStage()) + budget(ev.BudgetApplied)
	case *councilv1.ConsultResponse_ConsultCompleted:
		e := ev.ConsultCompleted
		s := fmt.Sprintf("completed in %s (%s)", dur(e.GetDuration()), usage(e.GetUsage()))
		if e.GetDegraded() {
			s += "; degraded"
			if ex := e.GetExcludedModels(); len(ex) > 0 {
				s += ", without " + strings.Join(ex, ", ")
			}
			var reasons []string
			for _, r := range e.GetDegradedReasons() {
				reasons = append(reasons, strings.ToLower(strings.TrimPrefix(r.String(), "DEGRADED_REASON_")))
			}
			if len(reasons) > 0 {
				s += " (" + strings.Join(reasons, ", ") + ")"
			}
		}
		if o := e.GetCostCapOvershootUsd(); o > 0 {
			s += fmt.Sprintf("; $%.4f over the cost cap", o)
		}
		return s
	}
	return fmt.Sprintf("event %d of a kind this client does not know", r.GetSequence())
}

// budget describes a decision of the cost cap.
func budget(e *councilv1.BudgetApplied) string {
	s := fmt.Sprintf("cost cap $%.4f: spent $%.4f, planned up to $%.4f", e.GetMaxCostUsd(), e.GetSpentUsd(), e.GetEstimatedCostUsd())
	var cuts []string
	if d := e.GetDroppedReviewers(); len(d) > 0 {
		cuts = append(cuts, "dropped reviewers "+strings.Join(d, ", "))
	}
	if c := e.GetChairmanModel(); c != "" {
		cuts = append(cuts, fmt.Sprintf("chairman %s instead of %s", c, e.GetPlannedChairmanModel()))
	}
	if e.GetReviewSkipped() {
		cuts = append(cuts, "review skipped")
	}
	if e.GetFallbackSkipped() {
		cuts = append(cuts, "fallback chairman "+e.GetPlannedChairmanModel()+" skipped")
	}
	if len(cuts) == 0 {
		return s + "; nothing cut"
	}
	return s + "; " + strings.Join(cuts, "; ")
}

func stageName(s councilv1.Stage) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "STAGE_"))
}

// dur rounds a duration for display: milliseconds below a second, tenths
// of a second above.
func dur(d *durationpb.Duration) string {
	v := d.AsDuration()
	if v < time.Second {
		return v.Round(time.Millisecond).String()
	}
	return v.Round(100 * time.Millisecond).String()
}

func usage(u *councilv1.Usage) string {
	s := fmt.Sprintf("%d tokens", u.GetInputTokens()+u.GetOutputTokens())
	if u.GetCostUsd() > 0 {
		s += fmt.Sprintf(", $%.4f", u.GetCostUsd())
	}
	return s
}

func attempts(n int32) string {
	if n > 1 {
		return fmt.Sprintf(", %d attempts", n)
	}
	return ""
}

// plural formats a count of things: "1 vote", "2 votes".
func plural(n int32, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

func ranking(models []string) string {
	if len(models) == 0 {
		return "no ranking parsed"
	}
	return strings.Join(models, " > ")
}
