package server

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/councilhq/council/consultation"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/streams"
	"github.com/councilhq/council/orchestrator"
)

// gatedCouncil emits ConsultStarted and a stage start with the ctx's
// consultation id, waits for open (or its context), then completes.
type gatedCouncil struct {
	open    chan struct{}
	started chan string
}

func (g *gatedCouncil) Consult(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
	id, _ := orchestrator.ConsultationIDFrom(ctx)
	ev := func(seq uint64, p any) orchestrator.Event {
		return orchestrator.Event{Sequence: seq, ConsultationID: id, Time: time.Now(), Payload: p}
	}
	if err := emit(ev(1, &orchestrator.ConsultStarted{Tier: "balanced"})); err != nil {
		return err
	}
	if err := emit(ev(2, &orchestrator.StageStarted{Stage: orchestrator.StageCollect})); err != nil {
		return err
	}
	g.started <- id
	select {
	case <-g.open:
	case <-ctx.Done():
		return ctx.Err()
	}
	return emit(ev(3, &orchestrator.ConsultCompleted{Duration: time.Second}))
}

func bearer(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

func (h *harness) watch(ctx context.Context, req *councilv1.WatchRequest) ([]*councilv1.ConsultResponse, error) {
	stream, err := h.client.Watch(ctx, req)
	if err != nil {
		return nil, err
	}
	return streams.ReadAll(stream)
}

func TestWatchReplaysAndChecksTheCaller(t *testing.T) {
	g := &gatedCouncil{open: make(chan struct{}), started: make(chan string, 1)}
	close(g.open)
	h := start(t, g, WithBearerTokens("a", "b"))
	ctx := bearer(context.Background(), "a")
	evs, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if err != nil || len(evs) != 3 {
		t.Fatalf("Consult = %d events, %v", len(evs), err)
	}
	id := evs[0].GetConsultationId()
	got, err := h.watch(ctx, &councilv1.WatchRequest{ConsultationId: id, AfterSequence: 1})
	if err != nil || len(got) != 2 || !proto.Equal(got[0], evs[1]) || !proto.Equal(got[1], evs[2]) {
		t.Fatalf("Watch after 1 = %v, %v", got, err)
	}
	if _, err := h.watch(bearer(context.Background(), "b"), &councilv1.WatchRequest{ConsultationId: id}); status.Code(err) != codes.NotFound {
		t.Fatalf("Watch by another caller = %v, want NotFound", err)
	} else if info, _ := errorInfo(t, err); info.GetReason() != ReasonConsultationNotFound {
		t.Errorf("reason %q", info.GetReason())
	}
	_, err = h.watch(ctx, &councilv1.WatchRequest{ConsultationId: "not an id"})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("Watch of a malformed id = %v", err)
	}
	if _, br := errorInfo(t, err); br == nil || br.GetFieldViolations()[0].GetField() != "consultation_id" {
		t.Errorf("BadRequest = %v, want consultation_id", br)
	}
}

// A draining server ends its Watch calls at once with REPLICA_DRAINING,
// while the consultation itself runs to its end.
func TestDrainEndsWatches(t *testing.T) {
	g := &gatedCouncil{open: make(chan struct{}), started: make(chan string, 1)}
	h := start(t, g)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	stream, err := h.client.Consult(ctx, &councilv1.ConsultRequest{Query: "q", RequestId: "r"})
	if err != nil {
		t.Fatal(err)
	}
	id := recv(t, g.started)
	watched := make(chan error, 1)
	go func() { _, err := h.watch(ctx, &councilv1.WatchRequest{ConsultationId: id}); watched <- err }()
	time.Sleep(50 * time.Millisecond)
	shut := make(chan error, 1)
	go func() { shut <- h.shutdown() }()
	err = recv(t, watched)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Watch during drain = %v, want Unavailable", err)
	}
	if info, _ := errorInfo(t, err); info.GetReason() != ReasonReplicaDraining {
		t.Errorf("reason %q, want %q", info.GetReason(), ReasonReplicaDraining)
	}
	close(g.open)
	var last *councilv1.ConsultResponse
	for {
		msg, err := stream.Recv()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("draining consultation ended with %v", err)
			}
			break
		}
		last = msg
	}
	if last.GetConsultCompleted() == nil {
		t.Fatalf("draining consultation ended after %v", last)
	}
	if err := recv(t, shut); err != nil {
		t.Fatal(err)
	}
}

func TestStatusOfConsultationErrors(t *testing.T) {
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason string
	}{
		{consultation.ErrConflict, codes.AlreadyExists, ReasonRequestIDReused},
		{consultation.ErrNotFound, codes.NotFound, ReasonConsultationNotFound},
		{consultation.ErrLost, codes.Unavailable, ReasonConsultationLost},
		{errors.Join(consultation.ErrUnavailable, errors.New(secret)), codes.Unavailable, ReasonEventLogUnavailable},
		{consultation.ErrAbandoned, codes.Canceled, ReasonCanceled},
	} {
		st := toStatus(tc.err)
		if status.Code(st) != tc.code {
			t.Errorf("%v: code %v, want %v", tc.err, status.Code(st), tc.code)
			continue
		}
		if info, _ := errorInfo(t, st); info.GetReason() != tc.reason {
			t.Errorf("%v: reason %q, want %q", tc.err, info.GetReason(), tc.reason)
		}
	}
	if _, br := errorInfo(t, toStatus(consultation.ErrConflict)); br == nil || br.GetFieldViolations()[0].GetField() != "request_id" {
		t.Errorf("ALREADY_EXISTS does not name request_id: %v", br)
	}
}
