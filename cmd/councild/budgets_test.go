package main

import (
	"context"
	"io"
	"strings"
	"testing"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/redistest"
)

func TestBudgetsFileErrorsNameTheSetting(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "default: {usd: 5, period: week}\n")
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"bad period from the variable", map[string]string{envBudgetsFile: bad}, nil, []string{envBudgetsFile, `period "week"`}},
		{"bad period from the flag", nil, []string{"-budgets-file", bad}, []string{"-budgets-file", "week"}},
		{"missing file", map[string]string{envBudgetsFile: bad + ".absent"}, nil, []string{envBudgetsFile, "no such file"}},
		{"empty file", map[string]string{envBudgetsFile: writeFile(t, "empty.yaml", "")}, nil, []string{envBudgetsFile, "no budget set"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.args, envOf(tc.env), io.Discard)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one mentioning %q", err, w)
				}
			}
		})
	}
	c, err := loadConfig(nil, envOf(map[string]string{envBudgetsFile: writeFile(t, "ok.yaml", "callers:\n  token-1: {usd: 3, period: month}\n")}), io.Discard)
	if err != nil || c.budgets == nil || c.budgets.Callers["token-1"].USD != 3 {
		t.Errorf("good file: %+v, %v", c.budgets, err)
	}
	if c, err := loadConfig(nil, envOf(nil), io.Discard); err != nil || c.budgets != nil {
		t.Errorf("no file: %+v, %v", c.budgets, err)
	}
}

// TestRunSharesBudgetsThroughRedis runs two councild replicas on one
// redis-server with one budgets file: the spend of a consultation on one
// is what GetSpend reports on the other.
func TestRunSharesBudgetsThroughRedis(t *testing.T) {
	redisSrv := redistest.Start(t)
	env := map[string]string{
		envSimScale:    "0.01",
		envRedisURL:    redisSrv.URL(),
		envBudgetsFile: writeFile(t, "budgets.yaml", "default: {usd: 10, period: day}\n"),
	}
	conn1, _ := startRun(t, env)
	conn2, _ := startRun(t, env)

	evs := consultAll(t, conn1, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	cost := evs[len(evs)-1].GetConsultCompleted().GetUsage().GetCostUsd()
	if cost <= 0 {
		t.Fatalf("the consultation cost %v", cost)
	}
	spend, err := councilv1.NewCouncilClient(conn2).GetSpend(context.Background(), &councilv1.GetSpendRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if spend.GetCaller() != "127.0.0.1" || spend.GetBudget() != "default" || spend.GetLimitUsd() != 10 ||
		spend.GetSpentUsd() < cost*0.999999 || spend.GetSpentUsd() > cost*1.000001 {
		t.Errorf("replica 2 reports %v after a consultation of $%v on replica 1", spend, cost)
	}
}
