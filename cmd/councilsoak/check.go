package main

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/server"
)

// leakMarkers are the upstream key and the texts of the fake upstream's
// error bodies and error chunks; none may reach a client.
var leakMarkers = []string{
	apiKey,
	"sk-or-",
	"Rate limit exceeded",
	"Internal Server Error",
	"Provider returned error",
	"Provider is overloaded",
	"Provider disconnected unexpectedly",
}

// expectedFailures are the statuses a consultation may end with when
// upstream faults take out too many models: code and ErrorInfo reason.
var expectedFailures = map[string]bool{
	codes.Unavailable.String() + "/" + server.ReasonQuorumNotMet: true,
	codes.Unavailable.String() + "/" + server.ReasonNoSynthesis:  true,
}

// verdict is what one consultation came to.
type verdict struct {
	ok       bool
	degraded bool
	// status is "CODE/REASON" of a non-OK stream.
	status string
	// problems are errors that should not happen.
	problems []string
}

// checker follows one stream as its events arrive.
type checker struct {
	n         uint64
	id        string
	stage     councilv1.Stage
	final     bool
	completed *councilv1.ConsultCompleted
	collect   map[string]bool // council models that failed in Stage 1
	answered  map[string]bool
	problems  []string
}

func newChecker() *checker {
	return &checker{collect: map[string]bool{}, answered: map[string]bool{}}
}

func (c *checker) problem(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// event checks the next event.
func (c *checker) event(ev *councilv1.ConsultResponse) {
	c.n++
	if ev.GetSequence() != c.n {
		c.problem("sequence %d where %d was due", ev.GetSequence(), c.n)
		c.n = ev.GetSequence()
	}
	switch {
	case c.n == 1 && ev.GetConsultStarted() == nil:
		c.problem("first event is %T, not ConsultStarted", ev.GetEvent())
	case c.n == 1:
		c.id = ev.GetConsultationId()
	case ev.GetConsultationId() != c.id:
		c.problem("consultation id changed from %q to %q", c.id, ev.GetConsultationId())
	}
	if ev.GetStage() < c.stage {
		c.problem("stage went back from %v to %v", c.stage, ev.GetStage())
	}
	c.stage = ev.GetStage()
	if c.completed != nil {
		c.problem("event %d after ConsultCompleted", c.n)
	}
	text := prototext.Format(ev)
	for _, m := range leakMarkers {
		if strings.Contains(text, m) {
			c.problem("upstream text %q in event %d", m, c.n)
		}
	}
	switch p := ev.GetEvent().(type) {
	case nil:
		c.problem("event %d has no payload", c.n)
	case *councilv1.ConsultResponse_ModelAnswered:
		m := p.ModelAnswered.GetModel()
		if strings.TrimSpace(p.ModelAnswered.GetContent()) == "" {
			c.problem("empty answer from %s", m)
		}
		if c.collect[m] {
			c.problem("%s answered after failing", m)
		}
		c.answered[m] = true
	case *councilv1.ConsultResponse_ModelFailed:
		f := p.ModelFailed
		if f.GetReason() == councilv1.ModelFailed_REASON_UNSPECIFIED || f.GetMessage() == "" {
			c.problem("failure of %s without reason or message", f.GetModel())
		}
		if f.GetStage() == councilv1.Stage_STAGE_COLLECT {
			if c.answered[f.GetModel()] {
				c.problem("%s failed after answering", f.GetModel())
			}
			c.collect[f.GetModel()] = true
		}
	case *councilv1.ConsultResponse_FinalAnswer:
		if c.final {
			c.problem("a second final answer")
		}
		c.final = true
		if strings.TrimSpace(p.FinalAnswer.GetContent()) == "" {
			c.problem("empty final answer")
		}
	case *councilv1.ConsultResponse_ConsultCompleted:
		c.completed = p.ConsultCompleted
	}
}

// end checks how the stream ended (err nil for status OK) and returns the
// verdict.
func (c *checker) end(err error) verdict {
	if err == nil {
		if c.completed == nil || !c.final {
			c.problem("status OK without a final answer and ConsultCompleted")
		} else if excluded := len(c.completed.GetExcludedModels()); excluded != len(c.collect) {
			c.problem("%d models excluded, %d failed in Stage 1", excluded, len(c.collect))
		}
		return verdict{ok: true, degraded: c.completed.GetDegraded(), problems: c.problems}
	}
	st := status.Convert(err)
	reason := ""
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason()
		}
	}
	v := verdict{status: st.Code().String() + "/" + reason}
	if !expectedFailures[v.status] {
		c.problem("undocumented outcome %s: %s", v.status, st.Message())
	}
	if c.completed != nil {
		c.problem("status %s after ConsultCompleted", v.status)
	}
	proto := prototext.Format(st.Proto())
	for _, m := range leakMarkers {
		if strings.Contains(proto, m) {
			c.problem("upstream text %q in the status", m)
		}
	}
	v.problems = c.problems
	return v
}
