package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	councilbudget "github.com/councilhq/council/budget"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/server"
)

func TestSpend(t *testing.T) {
	now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	b := councilbudget.New(councilbudget.Config{Callers: map[string]councilbudget.Limit{"token-1": {USD: 5, Period: councilbudget.Day}}}, nil,
		councilbudget.WithClock(func() time.Time { return now }))
	b.Record(context.Background(), "token-1", 1.25)
	addr := serve(t, &fakeCouncil{}, server.WithBearerTokens("t1", "t2"), server.WithBudgets(b))

	out, err := ctl(t, "--addr", addr, "--token", "t1", "spend")
	if err != nil {
		t.Fatalf("spend: %v", err)
	}
	want := "caller     token-1\nbudget     token-1: $5.000000 per day\nspent      $1.250000\nremaining  $3.750000\nresets     2026-12-02 00:00:00 UTC\n"
	if out != want {
		t.Errorf("spend printed\n%s\nwant\n%s", out, want)
	}
	out, err = ctl(t, "--addr", addr, "--token", "t1", "spend", "--json")
	var resp councilv1.GetSpendResponse
	if err != nil || protojson.Unmarshal([]byte(out), &resp) != nil || resp.GetRemainingUsd() != 3.75 {
		t.Errorf("spend --json = %v, %v:\n%s", &resp, err, out)
	}
	// token-2 has no budget.
	if out, err := ctl(t, "--addr", addr, "--token", "t2", "spend"); err != nil || !strings.Contains(out, "no budget applies") {
		t.Errorf("spend without a budget: %q, %v", out, err)
	}
	// A server without budgets says so.
	if _, err := ctl(t, "--addr", serve(t, &fakeCouncil{}), "spend"); err == nil || !strings.Contains(err.Error(), "Unimplemented") {
		t.Errorf("spend without budgets: %v", err)
	}
}
