package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/eventlog"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/logctx"
	"github.com/councilhq/council/orchestrator"
)

// service implements councilv1.CouncilServer on top of a Consulter.
type service struct {
	councilv1.UnimplementedCouncilServer

	consulter     Consulter
	consultations *consultation.Manager
	watches       *watches
	admission     *admission
	log           *slog.Logger
	tiers         []orchestrator.Tier
	defaultTier   string
	maxDuration   time.Duration
	stats         StatsSource
	catalog       ModelCatalog
	tierCost      func(orchestrator.Tier) float64
	budgets       Budgets
}

var _ councilv1.CouncilServer = (*service)(nil)

// Consult validates the request and runs the consultation through the
// consultation manager, which records its events for Watch, or attaches the
// call to the caller's earlier consultation with the same request id.
// Only this call's eventWriter sends on the stream.
func (s *service) Consult(req *councilv1.ConsultRequest, stream grpc.ServerStreamingServer[councilv1.ConsultResponse]) error {
	if err := validate(req); err != nil {
		return toStatus(err)
	}
	ctx := stream.Context()
	spec := consultation.Spec{
		ID:        consultationIDOf(ctx),
		Owner:     identityOf(ctx),
		RequestID: req.GetRequestId(),
	}
	if spec.RequestID != "" {
		spec.Fingerprint = fingerprint(req)
	}
	w := &eventWriter{stream: stream}
	defer w.close()
	end, err := s.consultations.Consult(ctx, spec, s.runFunc(req, callerOf(ctx), w), w.deliver)
	if err != nil {
		return toStatus(err)
	}
	return fromEnd(end)
}

// runFunc returns the consultation.RunFunc that runs req through the
// consulter: it checks the caller's budget first, encodes each event for
// the log, hands the message itself to w (the starting call's writer) so
// that it is not decoded again, charges the caller what the events report
// the consultation cost, and encodes the final status. A call attached to
// an earlier consultation by its request id runs none of this, so it is
// neither refused for the budget nor charged again.
func (s *service) runFunc(req *councilv1.ConsultRequest, caller string, w *eventWriter) consultation.RunFunc {
	return func(runCtx context.Context, emit func(eventlog.Entry) error) []byte {
		ctx, cancel := context.WithTimeout(runCtx, s.maxDuration)
		defer cancel()
		oreq := toRequest(req)
		oreq.Caller = caller
		var (
			mu       sync.Mutex
			last     uint64
			broken   error
			returned bool
			spent    float64 // the cost the events report
		)
		charged, err := s.checkBudget(ctx, &oreq)
		if err != nil {
			return toEnd(toStatus(err))
		}
		err = s.consulter.Consult(ctx, oreq, func(ev orchestrator.Event) error {
			mu.Lock()
			defer mu.Unlock()
			if !returned {
				// Its model call was paid for, whether or not the
				// event can be logged.
				spent += costOf(ev)
			}
			switch {
			case returned:
				return errStreamClosed
			case broken != nil:
				return broken
			case ev.Sequence != last+1:
				broken = fmt.Errorf("server: event sequence %d follows %d", ev.Sequence, last)
				return broken
			}
			data, err := encodeEvent(ev)
			if err != nil {
				broken = err
				return err
			}
			last = ev.Sequence
			return emit(eventlog.Entry{Seq: ev.Sequence, Data: data})
		})
		mu.Lock()
		returned = true
		if err == nil {
			// A stream that could not be written completely is not a
			// success, even if the consultation carried on.
			err = broken
		}
		cost := spent
		mu.Unlock()
		err = s.charge(ctx, charged, caller, cost, err)
		if err != nil && ctx.Err() != nil {
			// Whatever the consultation reported, it ended because its
			// client went away (and no one kept it), its deadline passed
			// or the server stopped it.
			err = context.Cause(ctx)
		}
		st := toStatus(err)
		if status.Code(st) == codes.Internal {
			s.log.ErrorContext(ctx, "consultation failed", "error", err)
		}
		return toEnd(st)
	}
}

// Watch validates the request and follows the consultation's log. When
// the server starts draining, it ends at once with REPLICA_DRAINING, so
// that the client watches on through another replica.
func (s *service) Watch(req *councilv1.WatchRequest, stream grpc.ServerStreamingServer[councilv1.ConsultResponse]) error {
	if err := validateWatch(req); err != nil {
		return toStatus(err)
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	if !s.watches.add(ctx, cancel) {
		return toStatus(errWatchDrained)
	}
	defer s.watches.remove(ctx)
	logctx.Add(ctx, slog.String(logConsultationID, req.GetConsultationId()))
	w := &eventWriter{stream: stream, last: req.GetAfterSequence()}
	defer w.close()
	end, err := s.consultations.Follow(ctx, req.GetConsultationId(), identityOf(ctx), req.GetAfterSequence(), w.deliver)
	if err != nil {
		return toStatus(err)
	}
	return fromEnd(end)
}

// watches are the Watch calls in progress, which a draining server ends.
type watches struct {
	mu       sync.Mutex
	cancels  map[context.Context]context.CancelCauseFunc
	draining bool
}

func newWatches() *watches {
	return &watches{cancels: make(map[context.Context]context.CancelCauseFunc)}
}

// add registers a Watch call; false when the server is draining.
func (w *watches) add(ctx context.Context, cancel context.CancelCauseFunc) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.draining {
		return false
	}
	w.cancels[ctx] = cancel
	return true
}

func (w *watches) remove(ctx context.Context) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.cancels, ctx)
}

// errWatchDrained is the cause a Watch is ended with when the server
// starts draining; toStatus maps it to Unavailable, REPLICA_DRAINING.
var errWatchDrained = errors.New("server: draining; watch again")

// drain ends every Watch call, now and to come, with errWatchDrained.
func (w *watches) drain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.draining = true
	for _, cancel := range w.cancels {
		cancel(errWatchDrained)
	}
}

// fingerprint identifies a request's content: a digest of its
// deterministic encoding.
func fingerprint(req *councilv1.ConsultRequest) string {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if err != nil {
		// A validated request always encodes; an unencodable one
		// matches nothing.
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// encodeEvent converts ev to its wire form and encodes it. A panic becomes
// an error, so that a malformed event cannot take the process down.
func encodeEvent(ev orchestrator.Event) (data []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("server: encoding event %d: panic: %v", ev.Sequence, p)
		}
	}()
	msg, err := toResponse(ev)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(msg)
}

// toEnd encodes a final status (nil: OK) for the log.
func toEnd(st error) []byte {
	b, err := proto.Marshal(status.Convert(st).Proto())
	if err != nil {
		b, _ = proto.Marshal(status.Convert(toStatus(err)).Proto())
	}
	return b
}

// fromEnd decodes a final status from the log; nil for OK.
func fromEnd(end []byte) error {
	var st spb.Status
	if err := proto.Unmarshal(end, &st); err != nil {
		return toStatus(fmt.Errorf("server: decoding a final status: %w", err))
	}
	return status.ErrorProto(&st)
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

// errStreamClosed is returned by deliver after the handler has returned.
var errStreamClosed = errors.New("server: event delivered after the call returned")

// eventWriter is the single writer of one Consult or Watch stream. It
// checks that sequence numbers follow each other, remembers the first
// failure and refuses events once closed.
type eventWriter struct {
	mu     sync.Mutex
	stream grpc.ServerStreamingServer[councilv1.ConsultResponse]
	last   uint64
	err    error
	closed bool
}

// deliver sends one logged event, its encoded bytes as they are (see
// [passThroughCodec]). After a failure it returns that failure without
// sending; after close it returns errStreamClosed.
func (w *eventWriter) deliver(e eventlog.Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.closed:
		return errStreamClosed
	case w.err != nil:
		return w.err
	case e.Seq != w.last+1:
		w.err = fmt.Errorf("server: event sequence %d follows %d", e.Seq, w.last)
		return w.err
	}
	if err := w.stream.SendMsg(encodedMessage(e.Data)); err != nil {
		w.err = err
		return err
	}
	w.last = e.Seq
	return nil
}

// close makes later deliveries fail.
func (w *eventWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
}
