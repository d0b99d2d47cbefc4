package orchestrator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/logctx"
	"github.com/councilhq/council/provider"
)

// tracerName is the instrumentation scope of the stage spans.
const tracerName = "github.com/councilhq/council/orchestrator"

// Council runs consultations. It is safe for concurrent use; consultations
// share nothing but the Completer.
type Council struct {
	completer provider.Completer
	cfg       Config
	known     modelSet
	opts      options
	tracer    trace.Tracer
}

// New returns a Council that makes its model calls through c. Zero fields
// of cfg take their defaults; a cfg.Tier that cfg.Tiers lacks is an error.
func New(c provider.Completer, cfg Config, opts ...Option) (*Council, error) {
	if c == nil {
		return nil, errors.New("orchestrator: nil completer")
	}
	cfg = cfg.withDefaults()
	t, ok := FindTier(cfg.Tiers, cfg.Tier)
	if !ok {
		return nil, fmt.Errorf("orchestrator: unknown tier %q", cfg.Tier)
	}
	cfg.Tier = t.Name
	cfg.Tiers = cloneTiers(cfg.Tiers)
	o := defaultOptions()
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return &Council{
		completer: c,
		cfg:       cfg,
		known:     newModelSet(cfg.KnownModels),
		opts:      o,
		tracer:    o.tracerProvider.Tracer(tracerName),
	}, nil
}

// idKey is the context key of a consultation id chosen by the caller.
type idKey struct{}

// WithConsultationID returns a context under which [Council.Consult] uses id
// as the consultation's id instead of making one, so that a caller can log
// it before the consultation starts.
func WithConsultationID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// ConsultationIDFrom returns the id [WithConsultationID] put in ctx, if any.
func ConsultationIDFrom(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(idKey{}).(string)
	return id, ok
}

// NewConsultationID returns a new random consultation id, 16 bytes in hex.
func NewConsultationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Consult runs one consultation and reports it through emit, which is
// called from the calling goroutine only, with strictly increasing sequence
// numbers starting at 1. It returns:
//   - nil after emitting ConsultCompleted;
//   - an *[InvalidRequestError], before emitting anything, for an unknown
//     tier or model or a council of the wrong size (see [Request]);
//   - an error wrapping [ErrQuorumNotMet] or [ErrNoSynthesis] after the
//     events that explain it;
//   - the context's error when ctx ends first, or emit's error when emit
//     fails; every upstream call is cancelled before Consult returns.
func (c *Council) Consult(ctx context.Context, req Request, emit func(Event) error) error {
	p, err := c.plan(req)
	if err != nil {
		return err
	}
	id, ok := ctx.Value(idKey{}).(string)
	if !ok {
		id = NewConsultationID()
	}
	logctx.Add(ctx, slog.String("consultation_id", id))
	r := &run{
		c:              c,
		p:              p,
		id:             id,
		emit:           emit,
		start:          time.Now(),
		stageDurations: make(map[Stage]time.Duration, 3),
	}
	err = r.execute(ctx)
	if c.opts.observer != nil {
		c.opts.observer.ConsultationFinished(ctx, r.summary(err))
	}
	return err
}

// startStage marks the start of a stage: a span, the run's current stage
// and a StageStarted event.
func (r *run) startStage(ctx context.Context, s Stage, models []string) (context.Context, trace.Span, error) {
	ctx, span := r.c.tracer.Start(ctx, "council."+s.String(), trace.WithAttributes(
		attribute.String("council.consultation_id", r.id),
		attribute.String("council.tier", r.p.tier),
		attribute.String("council.stage", s.String()),
	))
	r.stage = s
	if err := r.send(&StageStarted{Stage: s, Models: append([]string(nil), models...)}); err != nil {
		span.End()
		return ctx, span, err
	}
	return ctx, span, nil
}

// endStage records a stage's duration, emits StageCompleted and ends its span.
func (r *run) endStage(span trace.Span, s Stage, began time.Time, ok, failed int) error {
	d := time.Since(began)
	r.stageDurations[s] = d
	span.SetAttributes(attribute.Int("council.successes", ok), attribute.Int("council.failures", failed))
	span.End()
	return r.send(&StageCompleted{Stage: s, Duration: d, Successes: ok, Failures: failed})
}

// failSpan marks a stage span as failed and ends it.
func failSpan(span trace.Span, err error) {
	span.SetStatus(codes.Error, err.Error())
	span.End()
}
