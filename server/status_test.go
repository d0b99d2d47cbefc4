package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// secret stands for internal text (upstream bodies, keys) that must never
// reach a client.
const secret = "sk-or-v1-SECRET upstream said: overloaded"

func started(seq uint64) orchestrator.Event {
	return orchestrator.Event{Sequence: seq, ConsultationID: "c-1", Time: time.Now(), Payload: &orchestrator.ConsultStarted{Tier: "balanced"}}
}

func TestConsultMapsErrors(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   codes.Code
		reason string
	}{
		{"invalid domain request", fmt.Errorf("plan: %w", &orchestrator.InvalidRequestError{Field: "council_models[1]", Reason: "unknown model"}),
			codes.InvalidArgument, ReasonInvalidRequest},
		{"quorum not met", fmt.Errorf("collect: %w: %s", orchestrator.ErrQuorumNotMet, secret), codes.Unavailable, ReasonQuorumNotMet},
		{"quorum joined with causes", errors.Join(orchestrator.ErrQuorumNotMet, context.DeadlineExceeded, errors.New(secret)), codes.Unavailable, ReasonQuorumNotMet},
		{"no synthesis", fmt.Errorf("synthesize: %w: %s", orchestrator.ErrNoSynthesis, secret), codes.Unavailable, ReasonNoSynthesis},
		{"canceled", fmt.Errorf("%s: %w", secret, context.Canceled), codes.Canceled, ReasonCanceled},
		{"deadline", fmt.Errorf("%s: %w", secret, context.DeadlineExceeded), codes.DeadlineExceeded, ReasonDeadlineExceeded},
		{"anything else", errors.New(secret), codes.Internal, ReasonInternal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, &script{events: []orchestrator.Event{started(1)}, err: tc.err})
			evs, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
			if len(evs) != 1 {
				t.Errorf("got %d events before the error, want 1", len(evs))
			}
			if got := status.Code(err); got != tc.code {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.code)
			}
			info, _ := errorInfo(t, err)
			if info.GetReason() != tc.reason {
				t.Errorf("reason = %q, want %q", info.GetReason(), tc.reason)
			}
			if strings.Contains(status.Convert(err).Message(), "SECRET") {
				t.Errorf("status message leaks internal text: %q", status.Convert(err).Message())
			}
			if strings.Contains(fmt.Sprint(status.Convert(err).Proto()), "SECRET") {
				t.Errorf("status details leak internal text")
			}
		})
	}
}

func TestConsultRecoversFromPanic(t *testing.T) {
	var calls atomic.Int32
	h := start(t, ConsulterFunc(func(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		if calls.Add(1) == 1 {
			panic(secret)
		}
		return emit(started(1))
	}))
	_, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
	if got := status.Code(err); got != codes.Internal {
		t.Fatalf("code = %v (%v), want Internal", got, err)
	}
	if info, _ := errorInfo(t, err); info.GetReason() != ReasonInternal {
		t.Errorf("reason = %q, want %q", info.GetReason(), ReasonInternal)
	}
	if strings.Contains(status.Convert(err).Message(), "SECRET") {
		t.Errorf("status message leaks the panic value: %q", status.Convert(err).Message())
	}
	if !strings.Contains(h.logs.String(), "panic in handler") {
		t.Errorf("panic not logged; logs:\n%s", h.logs)
	}
	// The server keeps serving.
	if evs, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"}); err != nil || len(evs) != 1 {
		t.Fatalf("second Consult = %d events, %v", len(evs), err)
	}
}

func TestConsultRejectsBrokenEventStreams(t *testing.T) {
	type badPayload struct{}
	tests := []struct {
		name   string
		events []orchestrator.Event
	}{
		{"gap in sequence", []orchestrator.Event{started(1), started(3)}},
		{"sequence from zero", []orchestrator.Event{started(0)}},
		{"repeated sequence", []orchestrator.Event{started(1), started(1)}},
		{"unknown payload", []orchestrator.Event{{Sequence: 1, Payload: badPayload{}}}},
		{"nil payload", []orchestrator.Event{{Sequence: 1}}},
		{"typed nil payload", []orchestrator.Event{{Sequence: 1, Payload: (*orchestrator.ModelAnswered)(nil)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// The fake ignores emit's errors and reports success: the
			// server must still not end the stream with OK.
			h := start(t, ConsulterFunc(func(_ context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
				for _, ev := range tc.events {
					_ = emit(ev)
				}
				return nil
			}))
			evs, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
			if got := status.Code(err); got != codes.Internal {
				t.Fatalf("code = %v (%v), want Internal", got, err)
			}
			for i, ev := range evs {
				if ev.GetSequence() != uint64(i+1) {
					t.Errorf("event %d has sequence %d", i, ev.GetSequence())
				}
			}
		})
	}
}

func TestEmitAfterReturnFails(t *testing.T) {
	emits := make(chan func(orchestrator.Event) error, 1)
	h := start(t, ConsulterFunc(func(_ context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		emits <- emit
		return nil
	}))
	if _, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"}); err != nil {
		t.Fatalf("Consult: %v", err)
	}
	emit := recv(t, emits)
	if err := emit(started(1)); !errors.Is(err, errStreamClosed) {
		t.Errorf("late emit = %v, want errStreamClosed", err)
	}
}

func TestClientCancelReachesConsulter(t *testing.T) {
	seen := make(chan error, 1)
	h := start(t, ConsulterFunc(func(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		if err := emit(started(1)); err != nil {
			return err
		}
		<-ctx.Done()
		seen <- ctx.Err()
		return ctx.Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stream, err := h.client.Consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if err != nil {
		t.Fatalf("Consult: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first Recv: %v", err)
	}
	cancel()
	if err := recv(t, seen); !errors.Is(err, context.Canceled) {
		t.Errorf("Consulter's ctx error = %v, want context.Canceled", err)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel = %v, want Canceled", err)
	}
}

func TestConsultDurationIsCapped(t *testing.T) {
	h := start(t, ConsulterFunc(func(ctx context.Context, _ orchestrator.Request, _ func(orchestrator.Event) error) error {
		<-ctx.Done()
		return fmt.Errorf("collect: %w", ctx.Err())
	}), WithMaxConsultDuration(20*time.Millisecond))
	_, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Fatalf("code = %v (%v), want DeadlineExceeded", got, err)
	}
	if info, _ := errorInfo(t, err); info.GetReason() != ReasonDeadlineExceeded {
		t.Errorf("reason = %q", info.GetReason())
	}
}

func TestToStatusOfNilIsNil(t *testing.T) {
	if err := toStatus(nil); err != nil {
		t.Errorf("toStatus(nil) = %v", err)
	}
}
