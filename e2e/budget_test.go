package e2e

import (
	"context"
	"math"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/councilhq/council/budget"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/server"
)

// Bearer tokens of the budget tests: the first is the caller token-1, the
// second token-2.
var budgetTokens = []string{"tok-alpha", "tok-beta"}

// asToken returns a context whose calls carry the n-th budget token
// (1-based), the caller token-n.
func asToken(ctx context.Context, n int) context.Context {
	return as(ctx, budgetTokens[n-1])
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *testClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// budgetStack starts a stack with bearer tokens, prices and b.
func budgetStack(t *testing.T, b *budget.Budgets) *stack {
	t.Helper()
	return newStack(t, stackConfig{prices: true, server: []server.Option{
		server.WithBearerTokens(budgetTokens...), server.WithBudgets(b)}})
}

// completed returns the consult_completed event of a successful stream.
func completed(t *testing.T, evs []*councilv1.ConsultResponse, err error) *councilv1.ConsultCompleted {
	t.Helper()
	if err != nil {
		t.Fatalf("consultation failed: %v", err)
	}
	done := evs[len(evs)-1].GetConsultCompleted()
	if done == nil {
		t.Fatalf("last event is %v", evs[len(evs)-1])
	}
	return done
}

// budgetRefusal checks that err refuses the caller for its budget: code,
// ErrorInfo, a QuotaFailure naming the budget and a RetryInfo of retry.
func budgetRefusal(t *testing.T, err error, caller, name string, retry time.Duration) *errdetails.ErrorInfo {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("status %v, want RESOURCE_EXHAUSTED", err)
	}
	var info *errdetails.ErrorInfo
	var quota *errdetails.QuotaFailure
	var retryInfo *errdetails.RetryInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.QuotaFailure:
			quota = d
		case *errdetails.RetryInfo:
			retryInfo = d
		}
	}
	if info.GetReason() != server.ReasonBudgetExhausted || info.GetDomain() != server.ErrorDomain || info.GetMetadata()["budget"] != name {
		t.Errorf("ErrorInfo = %v", info)
	}
	if v := quota.GetViolations(); len(v) != 1 || v[0].GetSubject() != "caller:"+caller || v[0].GetQuotaId() != name ||
		v[0].GetQuotaDimensions()["period"] != "day" || v[0].GetDescription() == "" {
		t.Errorf("QuotaFailure = %v", quota)
	}
	if got := retryInfo.GetRetryDelay().AsDuration(); got != retry {
		t.Errorf("RetryInfo = %v, want %v (until the period resets)", got, retry)
	}
	return info
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

// TestCallerBudget runs a caller's daily budget out over gRPC against the
// fake upstream, which lists prices and reports usage.cost: each
// consultation's actual cost is charged, the remaining budget caps the
// next, a budget too low for the cheapest plan and a spent budget are
// refused with their details before any upstream call, another caller is
// not affected, and the budget is whole again the next day.
func TestCallerBudget(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 12, 1, 21, 30, 0, 0, time.UTC)}
	untilMidnight := 150 * time.Minute
	b := budget.New(budget.Config{
		Default: &budget.Limit{USD: 1, Period: budget.Day},
		Callers: map[string]budget.Limit{"token-2": {USD: 50, Period: budget.Month}},
	}, nil, budget.WithClock(clock.now))
	s := budgetStack(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	q := &councilv1.ConsultRequest{Query: "Why is the sky blue?"}

	// A whole budget caps the consultation at $1, which cuts nothing.
	evs, err := s.consult(asToken(ctx, 1), q)
	done := completed(t, evs, err)
	cost1 := done.GetUsage().GetCostUsd()
	applied := evs[1].GetBudgetApplied()
	if cost1 <= 0 || applied.GetMaxCostUsd() != 1 || done.GetDegraded() {
		t.Fatalf("first consultation: cost %v, budget_applied %v, degraded %v", cost1, applied, done.GetDegraded())
	}
	minimum := applied.GetEstimatedCostUsd() // the cheapest plan's estimate
	spend, err := s.client.GetSpend(asToken(ctx, 1), &councilv1.GetSpendRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if spend.GetCaller() != "token-1" || spend.GetBudget() != budget.DefaultName || spend.GetPeriod() != councilv1.BudgetPeriod_BUDGET_PERIOD_DAY ||
		spend.GetLimitUsd() != 1 || !near(spend.GetSpentUsd(), cost1) || !near(spend.GetRemainingUsd(), 1-cost1) ||
		!spend.GetResetTime().AsTime().Equal(time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)) ||
		!spend.GetPeriodStartTime().AsTime().Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("GetSpend after one consultation costing $%v: %v", cost1, spend)
	}

	// Other spend leaves a little more than the cheapest plan: the
	// consultation runs under that cap and stays within it.
	left := minimum * 1.05
	b.Record(ctx, "token-1", 1-cost1-left)
	evs, err = s.consult(asToken(ctx, 1), q)
	done = completed(t, evs, err)
	if got := evs[1].GetBudgetApplied().GetMaxCostUsd(); !near(got, left) {
		t.Errorf("cap = %v, want the remaining budget %v", got, left)
	}
	if c := done.GetUsage().GetCostUsd(); c > left || done.GetCostCapOvershootUsd() != 0 {
		t.Errorf("capped consultation cost %v of %v left, overshoot %v", c, left, done.GetCostCapOvershootUsd())
	}
	spend, _ = s.client.GetSpend(asToken(ctx, 1), &councilv1.GetSpendRequest{})
	if !near(spend.GetSpentUsd(), 1-left+done.GetUsage().GetCostUsd()) {
		t.Errorf("spent %v, want %v", spend.GetSpentUsd(), 1-left+done.GetUsage().GetCostUsd())
	}

	// Less than the cheapest plan left: refused before any upstream call.
	calls := s.upstream.Requests()
	_, err = s.consult(asToken(ctx, 1), q)
	info := budgetRefusal(t, err, "token-1", budget.DefaultName, untilMidnight)
	if m, _ := strconv.ParseFloat(info.GetMetadata()["minimum_cost_usd"], 64); !near(m, minimum) && math.Abs(m-minimum) > 1e-6 {
		t.Errorf("minimum_cost_usd = %q, want %v", info.GetMetadata()["minimum_cost_usd"], minimum)
	}

	// Spent outright.
	b.Record(ctx, "token-1", 1)
	clock.advance(30 * time.Minute)
	_, err = s.consult(asToken(ctx, 1), q)
	info = budgetRefusal(t, err, "token-1", budget.DefaultName, untilMidnight-30*time.Minute)
	if _, ok := info.GetMetadata()["minimum_cost_usd"]; ok || info.GetMetadata()["remaining_usd"] != "0.000000" {
		t.Errorf("spent budget: metadata %v", info.GetMetadata())
	}
	if got := s.upstream.Requests(); got != calls {
		t.Errorf("refused consultations made %d upstream calls", got-calls)
	}

	// token-2 has its own budget.
	evs, err = s.consult(asToken(ctx, 2), q)
	completed(t, evs, err)
	if spend, _ := s.client.GetSpend(asToken(ctx, 2), &councilv1.GetSpendRequest{}); spend.GetBudget() != "token-2" || spend.GetPeriod() != councilv1.BudgetPeriod_BUDGET_PERIOD_MONTH {
		t.Errorf("token-2: %v", spend)
	}

	// Midnight UTC: the budget is whole again.
	clock.advance(untilMidnight - 30*time.Minute)
	evs, err = s.consult(asToken(ctx, 1), q)
	done = completed(t, evs, err)
	spend, _ = s.client.GetSpend(asToken(ctx, 1), &councilv1.GetSpendRequest{})
	if !near(spend.GetSpentUsd(), done.GetUsage().GetCostUsd()) {
		t.Errorf("after the reset: spent %v, want the one consultation's %v", spend.GetSpentUsd(), done.GetUsage().GetCostUsd())
	}
}

// TestBudgetsSharedAcrossReplicas runs two stacks, as two replicas, with
// their budgets in one real redis-server: what one replica's consultations
// spend, the other counts and refuses on.
func TestBudgetsSharedAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	// Noon UTC tomorrow: Redis expires keys by its own clock, so the
	// period must not have ended yet in real time.
	clock := &testClock{t: time.Now().UTC().Truncate(24 * time.Hour).Add(36 * time.Hour)}
	cfg := budget.Config{Default: &budget.Limit{USD: 1, Period: budget.Day}}
	replicas := make([]*stack, 2)
	budgets := make([]*budget.Budgets, 2)
	for i := range replicas {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
		t.Cleanup(func() { _ = rdb.Close() })
		budgets[i] = budget.New(cfg, budget.NewRedis(rdb, ""), budget.WithClock(clock.now))
		replicas[i] = budgetStack(t, budgets[i])
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	q := &councilv1.ConsultRequest{Query: "Why is the sky blue?"}

	evs, err := replicas[0].consult(asToken(ctx, 1), q)
	cost := completed(t, evs, err).GetUsage().GetCostUsd()
	spend, err := replicas[1].client.GetSpend(asToken(ctx, 1), &councilv1.GetSpendRequest{})
	if err != nil || !near(spend.GetSpentUsd(), cost) {
		t.Fatalf("replica 2 sees $%v spent, want replica 1's $%v (%v)", spend.GetSpentUsd(), cost, err)
	}
	evs, err = replicas[1].consult(asToken(ctx, 1), q)
	cost += completed(t, evs, err).GetUsage().GetCostUsd()
	spend, _ = replicas[0].client.GetSpend(asToken(ctx, 1), &councilv1.GetSpendRequest{})
	if !near(spend.GetSpentUsd(), cost) {
		t.Errorf("replica 1 sees $%v spent, want $%v", spend.GetSpentUsd(), cost)
	}

	// Replica 1 spends the rest; replica 2 refuses.
	budgets[0].Record(ctx, "token-1", 1)
	_, err = replicas[1].consult(asToken(ctx, 1), q)
	budgetRefusal(t, err, "token-1", budget.DefaultName, 12*time.Hour)
	if got := replicas[1].upstream.Requests(); got != 9 {
		t.Errorf("replica 2's upstream got %d requests, want the 9 of its one consultation", got)
	}
	if _, err := replicas[1].consult(asToken(ctx, 2), q); err != nil {
		t.Errorf("token-2 refused for token-1's spend: %v", err)
	}
}
