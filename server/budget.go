package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/councilhq/council/budget"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// Budgets holds the callers' spending budgets; *budget.Budgets implements
// it. It must be safe for concurrent use.
type Budgets interface {
	// Check returns the caller's budget now, or a *budget.ExceededError
	// when it is spent.
	Check(ctx context.Context, caller string) (budget.Status, error)
	// Record adds a consultation's actual cost to the caller's spend.
	Record(ctx context.Context, caller string, usd float64) budget.Status
	// Status returns the caller's budget and spend now.
	Status(ctx context.Context, caller string) budget.Status
}

var _ Budgets = (*budget.Budgets)(nil)

// checkTimeout bounds the budget check before a consultation, so that a
// store that hangs delays it at most this long; the check then counts
// this replica's own spend.
const checkTimeout = 2 * time.Second

// recordTimeout bounds the recording of a consultation's cost, which
// happens even when the call's context has ended.
const recordTimeout = 5 * time.Second

// errNoBudgets: GetSpend on a server without budgets.
var errNoBudgets = errors.New("server: no budgets")

// chargeable is a consultation of a caller with a budget.
type chargeable struct {
	status budget.Status
	// capped is true when the request's cost cap was lowered to what
	// remains of the budget.
	capped bool
}

// checkBudget refuses a caller whose budget is spent and caps the
// request's cost at what remains of it. It returns nil when no budget
// applies.
func (s *service) checkBudget(ctx context.Context, req *orchestrator.Request) (*chargeable, error) {
	if s.budgets == nil {
		return nil, nil
	}
	cctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	st, err := s.budgets.Check(cctx, req.Caller)
	if err != nil {
		return nil, err
	}
	if !st.Limited() {
		return nil, nil
	}
	c := &chargeable{status: st}
	if left := st.RemainingUSD(); req.MaxCostUSD <= 0 || left < req.MaxCostUSD {
		req.MaxCostUSD, c.capped = left, true
	}
	return c, nil
}

// charge records the cost of a finished consultation and turns a cap too
// low for the cheapest plan, when the cap was the remaining budget, into
// the budget's refusal.
func (s *service) charge(ctx context.Context, c *chargeable, caller string, usd float64, err error) error {
	if c == nil {
		return err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	s.budgets.Record(rctx, caller, usd)
	var tooLow *orchestrator.BudgetTooLowError
	if c.capped && errors.As(err, &tooLow) {
		return &budget.ExceededError{Status: c.status, MinimumUSD: tooLow.MinimumUSD}
	}
	return err
}

// costOf returns the actual cost an event reports for its model call: the
// usage of each answer, ranking and final answer, which together make up
// consult_completed's total.
func costOf(ev orchestrator.Event) float64 {
	switch p := ev.Payload.(type) {
	case *orchestrator.ModelAnswered:
		return p.Usage.Cost
	case *orchestrator.ModelRanked:
		return p.Usage.Cost
	case *orchestrator.FinalAnswer:
		return p.Usage.Cost
	}
	return 0
}

// GetSpend reports the caller's spend and budget.
func (s *service) GetSpend(ctx context.Context, _ *councilv1.GetSpendRequest) (*councilv1.GetSpendResponse, error) {
	if s.budgets == nil {
		return nil, toStatus(errNoBudgets)
	}
	st := s.budgets.Status(ctx, callerOf(ctx))
	resp := &councilv1.GetSpendResponse{Caller: st.Caller}
	if !st.Limited() {
		return resp, nil
	}
	resp.Budget = st.Budget
	resp.Period = toBudgetPeriod(st.Limit.Period)
	resp.LimitUsd = st.Limit.USD
	resp.SpentUsd = st.SpentUSD
	resp.RemainingUsd = st.RemainingUSD()
	resp.PeriodStartTime = timestamppb.New(st.PeriodStart)
	resp.ResetTime = timestamppb.New(st.ResetAt)
	return resp, nil
}

// toBudgetPeriod converts a budget period.
func toBudgetPeriod(p budget.Period) councilv1.BudgetPeriod {
	switch p {
	case budget.Day:
		return councilv1.BudgetPeriod_BUDGET_PERIOD_DAY
	case budget.Month:
		return councilv1.BudgetPeriod_BUDGET_PERIOD_MONTH
	}
	return councilv1.BudgetPeriod_BUDGET_PERIOD_UNSPECIFIED
}
