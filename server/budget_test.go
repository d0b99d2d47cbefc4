package server

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

func TestConsultCostCap(t *testing.T) {
	var got orchestrator.Request
	h := start(t, ConsulterFunc(func(_ context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
		got = req
		if req.MaxCostUSD < 0.01 {
			return &orchestrator.BudgetTooLowError{MaxCostUSD: req.MaxCostUSD, MinimumUSD: 0.0123456}
		}
		for i, p := range []any{
			&orchestrator.ConsultStarted{},
			&orchestrator.BudgetApplied{Stage: orchestrator.StageReview, MaxCostUSD: req.MaxCostUSD, SpentUSD: 0.004, EstimatedCostUSD: 0.005,
				DroppedReviewers: []string{"a"}, Chairman: "c", PlannedChairman: "z"},
			&orchestrator.ConsultCompleted{Degraded: true, Reasons: []orchestrator.DegradedReason{orchestrator.DegradedBudget},
				CapOvershootUSD: 0.0001, EstimatedCostUSD: 0.009},
		} {
			if err := emit(orchestrator.Event{Sequence: uint64(i + 1), ConsultationID: "c", Payload: p}); err != nil {
				return err
			}
		}
		return nil
	}))
	ctx := context.Background()

	evs, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q", MaxCostUsd: 0.02})
	if err != nil || len(evs) != 3 {
		t.Fatalf("consult: %d events, %v", len(evs), err)
	}
	if got.MaxCostUSD != 0.02 || got.Caller == "" {
		t.Errorf("request reached the council as %+v", got)
	}
	b := evs[1].GetBudgetApplied()
	if b.GetStage() != councilv1.Stage_STAGE_REVIEW || b.GetMaxCostUsd() != 0.02 || b.GetSpentUsd() != 0.004 || b.GetEstimatedCostUsd() != 0.005 ||
		len(b.GetDroppedReviewers()) != 1 || b.GetChairmanModel() != "c" || b.GetPlannedChairmanModel() != "z" {
		t.Errorf("budget_applied = %v", b)
	}
	done := evs[2].GetConsultCompleted()
	if done.GetCostCapOvershootUsd() != 0.0001 || done.GetEstimatedCostUsd() != 0.009 ||
		len(done.GetDegradedReasons()) != 1 || done.GetDegradedReasons()[0] != councilv1.DegradedReason_DEGRADED_REASON_BUDGET {
		t.Errorf("consult_completed = %v", done)
	}

	_, err = h.consult(ctx, &councilv1.ConsultRequest{Query: "q", MaxCostUsd: 0.001})
	info, _ := errorInfo(t, err)
	if status.Code(err) != codes.FailedPrecondition || info.GetReason() != ReasonBudgetTooLow || info.GetMetadata()["minimum_cost_usd"] != "0.012346" {
		t.Errorf("cap too low: %v, %v", err, info)
	}

	_, err = h.consult(ctx, &councilv1.ConsultRequest{Query: "q", MaxCostUsd: -1})
	if _, br := errorInfo(t, err); status.Code(err) != codes.InvalidArgument || br.GetFieldViolations()[0].GetField() != "max_cost_usd" {
		t.Errorf("negative cap: %v", err)
	}
}
