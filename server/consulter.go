package server

import (
	"context"

	"github.com/councilhq/council/orchestrator"
)

// Consulter runs consultations. *orchestrator.Council implements it.
//
// Consult must call emit from one goroutine at a time, with Sequence numbers
// 1, 2, 3…, and must not call it after returning. It returns nil after
// emitting ConsultCompleted, and otherwise an error the server maps to a gRPC
// status: *orchestrator.InvalidRequestError, *orchestrator.BudgetTooLowError,
// orchestrator.ErrQuorumNotMet,
// orchestrator.ErrNoSynthesis (all matched with errors.Is/As) or the context's
// error. An error returned by emit means the stream is gone; Consult should
// stop and return it. Its events carry the consultation id that
// orchestrator.ConsultationIDFrom finds in ctx, under which the server
// keeps them for Watch.
type Consulter interface {
	Consult(ctx context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error
}

// ConsulterFunc adapts a function to [Consulter].
type ConsulterFunc func(ctx context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error

// Consult calls f(ctx, req, emit).
func (f ConsulterFunc) Consult(ctx context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
	return f(ctx, req, emit)
}

var _ Consulter = (*orchestrator.Council)(nil)
