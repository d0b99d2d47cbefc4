package server

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/councilhq/council/budget"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
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

// TestBudgetCharge: the cost of every answer, ranking and final answer
// the council reported is charged, also when the consultation fails, and
// the remaining budget caps the request.
func TestBudgetCharge(t *testing.T) {
	b := budget.New(budget.Config{Default: &budget.Limit{USD: 1, Period: budget.Day}}, nil)
	var caps []float64
	h := start(t, ConsulterFunc(func(_ context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
		caps = append(caps, req.MaxCostUSD)
		for i, p := range []any{
			&orchestrator.ConsultStarted{},
			&orchestrator.ModelAnswered{Model: "a", Content: "x", Usage: provider.Usage{Cost: 0.25}},
			&orchestrator.ModelRanked{Reviewer: "a", Usage: provider.Usage{Cost: 0.125}},
			&orchestrator.FinalAnswer{Model: "c", Content: "y", Usage: provider.Usage{Cost: 0.0625}},
		} {
			if err := emit(orchestrator.Event{Sequence: uint64(i + 1), ConsultationID: "c", Payload: p}); err != nil {
				return err
			}
		}
		return orchestrator.ErrNoSynthesis
	}), WithBudgets(b))
	ctx := context.Background()
	if _, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q", MaxCostUsd: 2}); status.Code(err) != codes.Unavailable {
		t.Fatalf("consult: %v", err)
	}
	spend, err := h.client.GetSpend(ctx, &councilv1.GetSpendRequest{})
	if err != nil || spend.GetSpentUsd() != 0.4375 || spend.GetRemainingUsd() != 0.5625 {
		t.Fatalf("GetSpend = %v, %v; want $0.4375 spent", spend, err)
	}
	if _, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q", MaxCostUsd: 0.5}); status.Code(err) != codes.Unavailable {
		t.Fatalf("consult: %v", err)
	}
	if len(caps) != 2 || caps[0] != 1 || caps[1] != 0.5 {
		t.Errorf("caps %v, want the remaining $1, then the request's own $0.5 below the remaining $0.5625", caps)
	}
}

func TestGetSpendWithoutBudgets(t *testing.T) {
	h := start(t, ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error { return nil }))
	_, err := h.client.GetSpend(context.Background(), &councilv1.GetSpendRequest{})
	if info, _ := errorInfo(t, err); status.Code(err) != codes.Unimplemented || info.GetReason() != ReasonNotConfigured {
		t.Errorf("GetSpend without budgets: %v", err)
	}
	b := budget.New(budget.Config{Callers: map[string]budget.Limit{"token-9": {USD: 1, Period: budget.Day}}}, nil)
	h = start(t, ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error { return nil }), WithBudgets(b))
	spend, err := h.client.GetSpend(context.Background(), &councilv1.GetSpendRequest{})
	if err != nil || spend.GetCaller() == "" || spend.GetBudget() != "" || spend.GetPeriod() != councilv1.BudgetPeriod_BUDGET_PERIOD_UNSPECIFIED {
		t.Errorf("GetSpend of a caller without a budget: %v, %v", spend, err)
	}
}
