package e2e

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/server"
)

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// upstreamTexts are the messages the fake upstream puts in its error bodies
// and error chunks, and its key. None may reach a client.
var upstreamTexts = []string{
	apiKey,
	"sk-or-",
	"Rate limit exceeded",
	"Internal Server Error",
	"Provider returned error",
	"Provider is overloaded",
	"Provider disconnected unexpectedly",
	"free-models-per-min",
}

// outcome is what one consultation produced, digested for assertions.
type outcome struct {
	events    []*councilv1.ConsultResponse
	err       error
	failed    map[councilv1.Stage]map[string]councilv1.ModelFailed_Reason // stage → model → reason
	answered  []string                                                    // council models with a ModelAnswered
	final     *councilv1.FinalAnswer
	completed *councilv1.ConsultCompleted
}

// checkStream checks what must hold for every consultation, whatever the
// faults: sequence numbers 1, 2, 3… without gaps or repeats, one
// consultation id, stages that never go back, ConsultStarted first, status
// OK exactly when the stream ends with ConsultCompleted, exactly one
// non-empty final answer on success, no failure dressed as an answer, the
// documented shape of every non-OK status, and no upstream text or key in
// any event or status. It returns the digest of the stream.
func checkStream(t tb, evs []*councilv1.ConsultResponse, err error) outcome {
	t.Helper()
	o := outcome{events: evs, err: err, failed: map[councilv1.Stage]map[string]councilv1.ModelFailed_Reason{}}
	if len(evs) == 0 {
		if err == nil {
			t.Fatalf("status OK without any event")
		}
		checkStatus(t, err)
		return o
	}
	if evs[0].GetConsultStarted() == nil {
		t.Errorf("first event is %T, want ConsultStarted", evs[0].GetEvent())
	}
	id := evs[0].GetConsultationId()
	if id == "" {
		t.Errorf("empty consultation id")
	}
	var stage councilv1.Stage
	for i, ev := range evs {
		if want := uint64(i + 1); ev.GetSequence() != want {
			t.Fatalf("event %d has sequence %d, want %d", i, ev.GetSequence(), want)
		}
		if ev.GetConsultationId() != id {
			t.Errorf("event %d has consultation id %q, want %q", i+1, ev.GetConsultationId(), id)
		}
		if ev.GetStage() < stage {
			t.Errorf("event %d goes back from stage %v to %v", i+1, stage, ev.GetStage())
		}
		stage = ev.GetStage()
		if ev.GetEvent() == nil {
			t.Errorf("event %d has no payload", i+1)
		}
		switch p := ev.GetEvent().(type) {
		case *councilv1.ConsultResponse_ModelAnswered:
			if strings.TrimSpace(p.ModelAnswered.GetContent()) == "" {
				t.Errorf("event %d: empty answer from %s", i+1, p.ModelAnswered.GetModel())
			}
			o.answered = append(o.answered, p.ModelAnswered.GetModel())
		case *councilv1.ConsultResponse_ModelFailed:
			f := p.ModelFailed
			if f.GetReason() == councilv1.ModelFailed_REASON_UNSPECIFIED || f.GetMessage() == "" || f.GetAttempts() < 1 {
				t.Errorf("event %d: incomplete failure %v", i+1, f)
			}
			if o.failed[f.GetStage()] == nil {
				o.failed[f.GetStage()] = map[string]councilv1.ModelFailed_Reason{}
			}
			o.failed[f.GetStage()][f.GetModel()] = f.GetReason()
		case *councilv1.ConsultResponse_FinalAnswer:
			if o.final != nil {
				t.Errorf("event %d: a second final answer", i+1)
			}
			o.final = p.FinalAnswer
			if strings.TrimSpace(o.final.GetContent()) == "" {
				t.Errorf("event %d: empty final answer", i+1)
			}
		case *councilv1.ConsultResponse_ConsultCompleted:
			if i != len(evs)-1 {
				t.Errorf("ConsultCompleted is event %d of %d", i+1, len(evs))
			}
			o.completed = p.ConsultCompleted
		}
	}
	for m := range o.failed[councilv1.Stage_STAGE_COLLECT] {
		if slices.Contains(o.answered, m) {
			t.Errorf("%s both failed and answered in Stage 1", m)
		}
	}
	if o.final != nil {
		if _, ok := o.failed[councilv1.Stage_STAGE_SYNTHESIZE][o.final.GetModel()]; ok {
			t.Errorf("the final answer comes from %s, whose synthesis failed", o.final.GetModel())
		}
	}
	if err == nil {
		if o.completed == nil {
			t.Errorf("status OK but the last event is %T", evs[len(evs)-1].GetEvent())
		}
		if o.final == nil {
			t.Errorf("status OK without a final answer")
		}
	} else {
		if o.completed != nil {
			t.Errorf("ConsultCompleted followed by status %v", err)
		}
		checkStatus(t, err)
	}
	checkNoUpstreamText(t, evs, err)
	return o
}

// checkStatus checks the documented shape of a non-OK status: an ErrorInfo
// of domain council.v1 with a reason.
func checkStatus(t tb, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() == codes.OK || st.Code() == codes.Unknown || st.Code() == codes.Internal {
		t.Errorf("status %v: want a documented non-OK status", err)
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.GetDomain() != server.ErrorDomain || info.GetReason() == "" {
				t.Errorf("ErrorInfo %v", info)
			}
			return
		}
	}
	t.Errorf("status %v has no ErrorInfo", err)
}

// checkNoUpstreamText checks that no event and no status holds upstream
// error text or the upstream key.
func checkNoUpstreamText(t tb, evs []*councilv1.ConsultResponse, err error) {
	t.Helper()
	var b strings.Builder
	for _, ev := range evs {
		b.WriteString(prototext.Format(ev))
	}
	if err != nil {
		b.WriteString(prototext.Format(status.Convert(err).Proto()))
	}
	all := b.String()
	for _, s := range upstreamTexts {
		if strings.Contains(all, s) {
			t.Errorf("the client received upstream text %q", s)
		}
	}
}

// reasonOf returns the ErrorInfo reason of err's status.
func reasonOf(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// describe summarises events for failure messages.
func describe(evs []*councilv1.ConsultResponse) string {
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "\n  %d %v %s", ev.GetSequence(), ev.GetStage(), strings.TrimSpace(prototext.Format(ev)))
	}
	return b.String()
}
