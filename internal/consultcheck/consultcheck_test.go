package consultcheck

import (
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/server"
)

const key = "sk-test-KEY"

// ev builds an event with the given sequence, consultation id, stage and
// payload.
func ev(seq uint64, id string, stage councilv1.Stage, payload any) *councilv1.ConsultResponse {
	r := &councilv1.ConsultResponse{Sequence: seq, ConsultationId: id, Stage: stage}
	switch p := payload.(type) {
	case *councilv1.ConsultStarted:
		r.Event = &councilv1.ConsultResponse_ConsultStarted{ConsultStarted: p}
	case *councilv1.ModelAnswered:
		r.Event = &councilv1.ConsultResponse_ModelAnswered{ModelAnswered: p}
	case *councilv1.ModelFailed:
		r.Event = &councilv1.ConsultResponse_ModelFailed{ModelFailed: p}
	case *councilv1.FinalAnswer:
		r.Event = &councilv1.ConsultResponse_FinalAnswer{FinalAnswer: p}
	case *councilv1.ConsultCompleted:
		r.Event = &councilv1.ConsultResponse_ConsultCompleted{ConsultCompleted: p}
	}
	return r
}

func statusWith(code codes.Code, msg, reason string) error {
	st, _ := status.New(code, msg).WithDetails(protoadapt.MessageV1Of(&errdetails.ErrorInfo{Reason: reason, Domain: server.ErrorDomain}))
	return st.Err()
}

func TestStreamFindsWhatShouldNotHappen(t *testing.T) {
	const col, syn = councilv1.Stage_STAGE_COLLECT, councilv1.Stage_STAGE_SYNTHESIZE
	started := ev(1, "c", 0, &councilv1.ConsultStarted{})
	answer := func(seq uint64, m, text string) *councilv1.ConsultResponse {
		return ev(seq, "c", col, &councilv1.ModelAnswered{Model: m, Content: text})
	}
	fail := func(seq uint64, stage councilv1.Stage, m string) *councilv1.ConsultResponse {
		return ev(seq, "c", stage, &councilv1.ModelFailed{Stage: stage, Model: m, Reason: councilv1.ModelFailed_REASON_TIMEOUT, Message: "timed out", Attempts: 1})
	}
	final := func(seq uint64, m string) *councilv1.ConsultResponse {
		return ev(seq, "c", syn, &councilv1.FinalAnswer{Model: m, Content: "42"})
	}
	done := func(seq uint64, excluded ...string) *councilv1.ConsultResponse {
		return ev(seq, "c", syn, &councilv1.ConsultCompleted{ExcludedModels: excluded})
	}
	quorum := statusWith(codes.Unavailable, "too few", server.ReasonQuorumNotMet)
	documented := []string{Outcome(codes.Unavailable, server.ReasonQuorumNotMet)}
	tests := []struct {
		name     string
		statuses []string
		events   []*councilv1.ConsultResponse
		err      error
		problems int
	}{
		{"clean success", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "x"), final(3, "m"), done(4)}, nil, 0},
		{"degraded success", nil, []*councilv1.ConsultResponse{started, fail(2, col, "b"), answer(3, "a", "x"), final(4, "m"), done(5, "b")}, nil, 0},
		{"documented failure", documented, []*councilv1.ConsultResponse{started, fail(2, col, "a")}, quorum, 0},
		{"gap", nil, []*councilv1.ConsultResponse{started, answer(3, "a", "x")}, quorum, 1},
		{"repeat", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "x"), answer(2, "b", "y")}, quorum, 1},
		{"no id", nil, []*councilv1.ConsultResponse{ev(1, "", 0, &councilv1.ConsultStarted{})}, quorum, 1},
		{"not started first", nil, []*councilv1.ConsultResponse{answer(1, "a", "x")}, quorum, 1},
		{"other consultation", nil, []*councilv1.ConsultResponse{started, ev(2, "d", col, &councilv1.ModelAnswered{Model: "a", Content: "x"})}, quorum, 1},
		{"stage back", nil, []*councilv1.ConsultResponse{started, final(2, "m"), ev(3, "c", col, &councilv1.ModelAnswered{Model: "a", Content: "x"})}, quorum, 1},
		{"no payload", nil, []*councilv1.ConsultResponse{started, ev(2, "c", col, nil)}, quorum, 1},
		{"empty answer", nil, []*councilv1.ConsultResponse{started, answer(2, "a", " ")}, quorum, 1},
		{"answer after failure", nil, []*councilv1.ConsultResponse{started, fail(2, col, "a"), answer(3, "a", "x")}, quorum, 1},
		{"failure after answer", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "x"), fail(3, col, "a")}, quorum, 1},
		{"incomplete failure", nil, []*councilv1.ConsultResponse{started, ev(2, "c", col, &councilv1.ModelFailed{Stage: col, Model: "a"})}, quorum, 1},
		{"two final answers", nil, []*councilv1.ConsultResponse{started, final(2, "m"), final(3, "m"), done(4)}, nil, 1},
		{"final from failed chairman", nil, []*councilv1.ConsultResponse{started, fail(2, syn, "m"), final(3, "m"), done(4)}, nil, 1},
		{"excluded mismatch", nil, []*councilv1.ConsultResponse{started, fail(2, col, "b"), final(3, "m"), done(4)}, nil, 1},
		{"upstream text", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "Provider returned error")}, quorum, 1},
		{"limit name", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "over free-models-per-min")}, quorum, 1},
		{"key in status", nil, []*councilv1.ConsultResponse{started}, statusWith(codes.Unavailable, "key "+key, server.ReasonQuorumNotMet), 1},
		{"OK without answer", nil, []*councilv1.ConsultResponse{started}, nil, 1},
		{"undocumented status", nil, []*councilv1.ConsultResponse{started}, status.Error(codes.Internal, "boom"), 1},
		{"status without ErrorInfo", nil, []*councilv1.ConsultResponse{started}, status.Error(codes.Unavailable, "boom"), 1},
		{"status not allowed", documented, []*councilv1.ConsultResponse{started}, statusWith(codes.Unavailable, "x", server.ReasonNoSynthesis), 1},
		{"failure after completion", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "x"), final(3, "m"), done(4)}, quorum, 1},
		{"event after completion", nil, []*councilv1.ConsultResponse{started, answer(2, "a", "x"), final(3, "m"), done(4), final(5, "m")}, nil, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Rules{Secrets: []string{key}, Statuses: tc.statuses}.Stream()
			for _, e := range tc.events {
				s.Event(e)
			}
			v := s.End(tc.err)
			if len(v.Problems) != tc.problems {
				t.Errorf("problems = %q, want %d", v.Problems, tc.problems)
			}
			if v.OK != (tc.err == nil) {
				t.Errorf("OK = %v with error %v", v.OK, tc.err)
			}
		})
	}
	if v := (Rules{}).Stream().End(errors.New("not a status")); len(v.Problems) == 0 {
		t.Error("a non-status error passed")
	}
}

func TestLeaks(t *testing.T) {
	r := Rules{Secrets: []string{key}}
	if got := r.Leaks("msg=ok model=a"); len(got) != 0 {
		t.Errorf("Leaks of a clean log = %q", got)
	}
	if got := r.Leaks("error=" + key + " body=Rate limit exceeded: free-models-per-min."); len(got) < 3 {
		t.Errorf("Leaks = %q, want the key, the message and the limit name", got)
	}
}
