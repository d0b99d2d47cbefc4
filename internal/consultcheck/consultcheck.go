// Package consultcheck checks a Consult stream against what must never
// happen, whatever the upstream does: broken sequences, failures shown as
// answers, undocumented statuses, and upstream text or keys reaching a
// client. The end-to-end tests and the soak share it, so that both hold the
// service to the same rules.
package consultcheck

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/server"
)

// Rules say what a stream is checked against beyond the fixed rules.
type Rules struct {
	// Secrets are texts no event and no status may hold, such as the
	// upstream API key. The fake upstream's error texts
	// ([openroutertest.ErrorTexts]) and "sk-or-" are always checked.
	Secrets []string
	// Statuses, when not empty, are the only non-OK outcomes allowed, each
	// as "CODE/REASON" (for example "Unavailable/QUORUM_NOT_MET"). When
	// empty, any status with the documented ErrorInfo is allowed.
	Statuses []string
}

// Outcome formats a status code and ErrorInfo reason as Rules.Statuses
// spells them.
func Outcome(code codes.Code, reason string) string { return code.String() + "/" + reason }

// Failure is one ModelFailed event.
type Failure struct {
	Stage  councilv1.Stage
	Model  string
	Reason councilv1.ModelFailed_Reason
}

// Verdict is what one consultation came to.
type Verdict struct {
	// OK is true when the stream ended with status OK.
	OK bool
	// Status is the "CODE/REASON" of a non-OK stream; empty when OK.
	Status string
	// Problems are the errors that should not happen, in the order found.
	Problems []string
	// Failures are the ModelFailed events in order.
	Failures []Failure
	// Answered are the council models with a ModelAnswered event.
	Answered []string
	// Started, Final and Completed are the stream's ConsultStarted,
	// FinalAnswer and ConsultCompleted, if any.
	Started   *councilv1.ConsultStarted
	Final     *councilv1.FinalAnswer
	Completed *councilv1.ConsultCompleted
	// Events is the number of events received.
	Events int
}

// Failed returns the reason model failed with in stage, if it did.
func (v Verdict) Failed(stage councilv1.Stage, model string) (councilv1.ModelFailed_Reason, bool) {
	for _, f := range v.Failures {
		if f.Stage == stage && f.Model == model {
			return f.Reason, true
		}
	}
	return 0, false
}

// Stream follows one Consult stream as its events arrive. Its zero value
// is not usable; get one from [Rules.Stream].
type Stream struct {
	texts    []string
	statuses []string
	seq      uint64
	id       string
	stage    councilv1.Stage
	v        Verdict
}

// Stream returns a checker for one stream.
func (r Rules) Stream() *Stream {
	return &Stream{texts: r.texts(), statuses: r.Statuses}
}

// texts are the texts that must not reach a client.
func (r Rules) texts() []string {
	texts := append(slices.Clone(r.Secrets), "sk-or-")
	return append(texts, openroutertest.ErrorTexts()...)
}

// Leaks returns the upstream texts and secrets found in text, such as a
// server's log.
func (r Rules) Leaks(text string) []string {
	var found []string
	for _, m := range r.texts() {
		if strings.Contains(text, m) {
			found = append(found, m)
		}
	}
	return found
}

func (s *Stream) problem(format string, args ...any) {
	s.v.Problems = append(s.v.Problems, fmt.Sprintf(format, args...))
}

// Event checks the next event.
func (s *Stream) Event(ev *councilv1.ConsultResponse) {
	s.v.Events++
	s.seq++
	n := s.seq
	if ev.GetSequence() != n {
		s.problem("sequence %d where %d was due", ev.GetSequence(), n)
		s.seq = ev.GetSequence()
	}
	switch {
	case s.v.Events == 1 && ev.GetConsultStarted() == nil:
		s.problem("first event is %T, not ConsultStarted", ev.GetEvent())
	case s.v.Events == 1 && ev.GetConsultationId() == "":
		s.problem("empty consultation id")
	case s.v.Events == 1:
		s.id = ev.GetConsultationId()
		s.v.Started = ev.GetConsultStarted()
	case ev.GetConsultationId() != s.id:
		s.problem("event %d: consultation id changed from %q to %q", n, s.id, ev.GetConsultationId())
	}
	if ev.GetStage() < s.stage {
		s.problem("event %d: stage went back from %v to %v", n, s.stage, ev.GetStage())
	}
	s.stage = ev.GetStage()
	if s.v.Completed != nil {
		s.problem("event %d after ConsultCompleted", n)
	}
	s.checkText(prototext.Format(ev), fmt.Sprintf("event %d", n))
	switch p := ev.GetEvent().(type) {
	case nil:
		s.problem("event %d has no payload", n)
	case *councilv1.ConsultResponse_ModelAnswered:
		m := p.ModelAnswered.GetModel()
		if strings.TrimSpace(p.ModelAnswered.GetContent()) == "" {
			s.problem("event %d: empty answer from %s", n, m)
		}
		if _, failed := s.v.Failed(councilv1.Stage_STAGE_COLLECT, m); failed {
			s.problem("event %d: %s answered after failing", n, m)
		}
		s.v.Answered = append(s.v.Answered, m)
	case *councilv1.ConsultResponse_ModelFailed:
		f := p.ModelFailed
		if f.GetReason() == councilv1.ModelFailed_REASON_UNSPECIFIED || f.GetMessage() == "" || f.GetAttempts() < 1 {
			s.problem("event %d: incomplete failure of %s (reason %v, attempts %d)", n, f.GetModel(), f.GetReason(), f.GetAttempts())
		}
		if f.GetStage() == councilv1.Stage_STAGE_COLLECT && slices.Contains(s.v.Answered, f.GetModel()) {
			s.problem("event %d: %s failed after answering", n, f.GetModel())
		}
		s.v.Failures = append(s.v.Failures, Failure{Stage: f.GetStage(), Model: f.GetModel(), Reason: f.GetReason()})
	case *councilv1.ConsultResponse_FinalAnswer:
		if s.v.Final != nil {
			s.problem("event %d: a second final answer", n)
		}
		s.v.Final = p.FinalAnswer
		if strings.TrimSpace(p.FinalAnswer.GetContent()) == "" {
			s.problem("event %d: empty final answer", n)
		}
		if _, failed := s.v.Failed(councilv1.Stage_STAGE_SYNTHESIZE, p.FinalAnswer.GetModel()); failed {
			s.problem("event %d: the final answer comes from %s, whose synthesis failed", n, p.FinalAnswer.GetModel())
		}
	case *councilv1.ConsultResponse_ConsultCompleted:
		s.v.Completed = p.ConsultCompleted
	}
}

// End checks how the stream ended (err nil for status OK) and returns the
// verdict.
func (s *Stream) End(err error) Verdict {
	if err == nil {
		s.v.OK = true
		switch {
		case s.v.Completed == nil || s.v.Final == nil:
			s.problem("status OK without a final answer and ConsultCompleted")
		default:
			failed := 0
			for _, f := range s.v.Failures {
				if f.Stage == councilv1.Stage_STAGE_COLLECT {
					failed++
				}
			}
			if excluded := len(s.v.Completed.GetExcludedModels()); excluded != failed {
				s.problem("%d models excluded, %d failed in Stage 1", excluded, failed)
			}
		}
		return s.v
	}
	st := status.Convert(err)
	reason, domain := "", ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason, domain = info.GetReason(), info.GetDomain()
		}
	}
	s.v.Status = Outcome(st.Code(), reason)
	switch {
	case st.Code() == codes.OK || st.Code() == codes.Unknown || st.Code() == codes.Internal:
		s.problem("undocumented status %v: %s", st.Code(), st.Message())
	case domain != server.ErrorDomain || reason == "":
		s.problem("status %v without an ErrorInfo of domain %s: %s", st.Code(), server.ErrorDomain, st.Message())
	case len(s.statuses) > 0 && !slices.Contains(s.statuses, s.v.Status):
		s.problem("unexpected outcome %s: %s", s.v.Status, st.Message())
	}
	if s.v.Completed != nil {
		s.problem("status %s after ConsultCompleted", s.v.Status)
	}
	s.checkText(prototext.Format(st.Proto()), "the status")
	return s.v
}

// checkText records a problem for every upstream text or secret in text.
func (s *Stream) checkText(text, where string) {
	for _, m := range s.texts {
		if strings.Contains(text, m) {
			s.problem("upstream text %q in %s", m, where)
		}
	}
}
