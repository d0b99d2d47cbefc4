package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// service implements councilv1.CouncilServer on top of a Consulter.
type service struct {
	councilv1.UnimplementedCouncilServer

	consulter   Consulter
	admission   *admission
	log         *slog.Logger
	tiers       []orchestrator.Tier
	defaultTier string
	maxDuration time.Duration
	stats       StatsSource
	catalog     ModelCatalog
	tierCost    func(orchestrator.Tier) float64
}

var _ councilv1.CouncilServer = (*service)(nil)

// Consult validates the request, runs the consultation and streams its
// events. Only this call's eventWriter sends on the stream.
func (s *service) Consult(req *councilv1.ConsultRequest, stream grpc.ServerStreamingServer[councilv1.ConsultResponse]) error {
	if err := validate(req); err != nil {
		return toStatus(err)
	}
	ctx, cancel := context.WithTimeout(stream.Context(), s.maxDuration)
	defer cancel()

	w := &eventWriter{stream: stream}
	oreq := toRequest(req)
	oreq.Caller = callerOf(ctx)
	err := s.consulter.Consult(ctx, oreq, w.emit)
	if sendErr := w.close(); err == nil {
		// A stream that could not be written completely is not a success,
		// even if the consultation carried on.
		err = sendErr
	}
	if err != nil && ctx.Err() != nil {
		// Whatever the consultation reported, it ended because the
		// client went away, its deadline passed or the server's cap did.
		err = ctx.Err()
	}
	if st := toStatus(err); st != nil {
		if status.Code(st) == codes.Internal {
			s.log.ErrorContext(ctx, "consultation failed", "error", err)
		}
		return st
	}
	return nil
}

// ListTiers reports the configured tiers, priced by the tier cost function
// when there is one (see [WithTierCost]).
func (s *service) ListTiers(context.Context, *councilv1.ListTiersRequest) (*councilv1.ListTiersResponse, error) {
	tiers := s.tiers
	if s.tierCost != nil {
		tiers = make([]orchestrator.Tier, len(s.tiers))
		for i, t := range s.tiers {
			t.CostPerQuery = s.tierCost(t)
			tiers[i] = t
		}
	}
	return &councilv1.ListTiersResponse{Tiers: toTierInfos(tiers, s.defaultTier)}, nil
}

// errStreamClosed is returned by emit after the handler has returned.
var errStreamClosed = errors.New("server: event emitted after the consultation returned")

// eventWriter is the single writer of one Consult stream. It checks that
// sequence numbers run 1, 2, 3…, remembers the first failure and refuses
// events once closed.
type eventWriter struct {
	mu     sync.Mutex
	stream grpc.ServerStreamingServer[councilv1.ConsultResponse]
	last   uint64
	err    error
	closed bool
}

// emit sends one event. After a failure it returns that failure without
// sending; after close it returns errStreamClosed.
func (w *eventWriter) emit(ev orchestrator.Event) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return errStreamClosed
	}
	if w.err == nil {
		w.err = w.send(ev)
	}
	return w.err
}

// send converts and sends ev; w.mu is held. A panic becomes an error, so a
// malformed event cannot take the process down from a worker goroutine.
func (w *eventWriter) send(ev orchestrator.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("server: sending event %d: panic: %v", ev.Sequence, p)
		}
	}()
	if ev.Sequence != w.last+1 {
		return fmt.Errorf("server: event sequence %d follows %d", ev.Sequence, w.last)
	}
	msg, err := toResponse(ev)
	if err != nil {
		return err
	}
	if err := w.stream.Send(msg); err != nil {
		return err
	}
	w.last = ev.Sequence
	return nil
}

// close makes later emits fail and returns the first failure, if any.
func (w *eventWriter) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.err
}
