package e2e

import (
	"fmt"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/consultcheck"
)

// tb is what the checks need of *testing.T and *rapid.T.
type tb interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// rules are what every stream is checked against: no upstream key and
// none of the fake upstream's error texts may reach a client.
var rules = consultcheck.Rules{Secrets: []string{apiKey}}

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
// faults (the rules of package consultcheck, shared with the soak), and
// returns the digest of the stream.
func checkStream(t tb, evs []*councilv1.ConsultResponse, err error) outcome {
	t.Helper()
	s := rules.Stream()
	for _, ev := range evs {
		s.Event(ev)
	}
	v := s.End(err)
	for _, p := range v.Problems {
		t.Errorf("%s", p)
	}
	o := outcome{events: evs, err: err, answered: v.Answered, final: v.Final, completed: v.Completed,
		failed: map[councilv1.Stage]map[string]councilv1.ModelFailed_Reason{}}
	for _, f := range v.Failures {
		if o.failed[f.Stage] == nil {
			o.failed[f.Stage] = map[string]councilv1.ModelFailed_Reason{}
		}
		o.failed[f.Stage][f.Model] = f.Reason
	}
	return o
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
