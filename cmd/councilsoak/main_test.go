package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSoakSmall(t *testing.T) {
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{
		"-concurrency", "12", "-duration", "1s", "-fault-rate", "0.3",
		"-ttft", "5ms", "-latency", "20ms", "-call-timeout", "500ms", "-conns", "3",
	}, &out)
	report := out.String()
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, report)
	}
	for _, want := range []string{
		"12 concurrent consultations for 1s",
		"peak in flight 12",
		"errors that should not happen: 0",
		"goroutines:", "resident memory (VmRSS):", "VmHWM",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-concurrency", "0"},
		{"-concurrency", "10001"},
		{"-duration", "0s"},
		{"-duration", "2h"},
		{"-fault-rate", "1.5"},
		{"-ttft", "2s", "-latency", "1s"},
		{"-conns", "20", "-concurrency", "10"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

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

func TestCheckerFindsWhatShouldNotHappen(t *testing.T) {
	const col = councilv1.Stage_STAGE_COLLECT
	started := ev(1, "c", 0, &councilv1.ConsultStarted{})
	answer := func(seq uint64, m, text string) *councilv1.ConsultResponse {
		return ev(seq, "c", col, &councilv1.ModelAnswered{Model: m, Content: text})
	}
	fail := func(seq uint64, m string) *councilv1.ConsultResponse {
		return ev(seq, "c", col, &councilv1.ModelFailed{Stage: col, Model: m, Reason: councilv1.ModelFailed_REASON_TIMEOUT, Message: "timed out"})
	}
	final := func(seq uint64) *councilv1.ConsultResponse {
		return ev(seq, "c", councilv1.Stage_STAGE_SYNTHESIZE, &councilv1.FinalAnswer{Model: "m", Content: "42"})
	}
	done := func(seq uint64) *councilv1.ConsultResponse {
		return ev(seq, "c", councilv1.Stage_STAGE_SYNTHESIZE, &councilv1.ConsultCompleted{})
	}
	quorum := statusWith(codes.Unavailable, "too few", server.ReasonQuorumNotMet)
	tests := []struct {
		name     string
		events   []*councilv1.ConsultResponse
		err      error
		problems int
	}{
		{"clean success", []*councilv1.ConsultResponse{started, answer(2, "a", "x"), final(3), done(4)}, nil, 0},
		{"documented failure", []*councilv1.ConsultResponse{started, fail(2, "a")}, quorum, 0},
		{"gap", []*councilv1.ConsultResponse{started, answer(3, "a", "x")}, quorum, 1},
		{"repeat", []*councilv1.ConsultResponse{started, answer(2, "a", "x"), answer(2, "b", "y")}, quorum, 1},
		{"other consultation", []*councilv1.ConsultResponse{started, ev(2, "d", col, &councilv1.ModelAnswered{Model: "a", Content: "x"})}, quorum, 1},
		{"stage back", []*councilv1.ConsultResponse{started, final(2), ev(3, "c", col, &councilv1.ModelAnswered{Model: "a", Content: "x"})}, quorum, 1},
		{"empty answer", []*councilv1.ConsultResponse{started, answer(2, "a", " ")}, quorum, 1},
		{"answer after failure", []*councilv1.ConsultResponse{started, fail(2, "a"), answer(3, "a", "x")}, quorum, 1},
		{"upstream text", []*councilv1.ConsultResponse{started, answer(2, "a", "Provider returned error")}, quorum, 1},
		{"key in status", []*councilv1.ConsultResponse{started}, statusWith(codes.Unavailable, "key "+apiKey, server.ReasonQuorumNotMet), 2},
		{"OK without answer", []*councilv1.ConsultResponse{started}, nil, 1},
		{"undocumented status", []*councilv1.ConsultResponse{started}, status.Error(codes.Internal, "boom"), 1},
		{"failure after completion", []*councilv1.ConsultResponse{started, answer(2, "a", "x"), final(3), done(4)}, quorum, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newChecker()
			for _, e := range tc.events {
				c.event(e)
			}
			v := c.end(tc.err)
			if len(v.problems) != tc.problems {
				t.Errorf("problems = %q, want %d", v.problems, tc.problems)
			}
			if v.ok != (tc.err == nil) {
				t.Errorf("ok = %v with error %v", v.ok, tc.err)
			}
		})
	}
	if v := newChecker().end(errors.New("not a status")); len(v.problems) == 0 {
		t.Error("a non-status error passed")
	}
}
