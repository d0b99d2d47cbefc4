// Command councilbench-cost measures what cost caps do. It runs a set of
// questions through the council (balanced tier) against the fake OpenRouter,
// which lists the simulator's prices and charges them in usage.cost, first
// without a cap, then with each question capped at 75 %, 50 % and 25 % of
// its uncapped cost, and prints a Markdown table: the mean actual cost, the
// stages run, the share of consultations degraded and of those refused
// with BUDGET_TOO_LOW. -answer-tokens, -ranking-tokens and -synthesis-tokens
// set the calls' max_tokens, the output bound the estimates use.
//
// Usage:
//
//	councilbench-cost [-questions 20] [-answer-tokens 1024] [-ranking-tokens 1024] [-synthesis-tokens 2048]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/openrouter"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "councilbench-cost:", err)
		os.Exit(1)
	}
}

// level is one cap: a fraction of each question's uncapped cost, 0 for none.
type level struct {
	name     string
	fraction float64
}

var levels = []level{{"none", 0}, {"75 %", 0.75}, {"50 %", 0.50}, {"25 %", 0.25}}

// outcome totals one level's consultations.
type outcome struct {
	n, refused, degraded, stages int
	cost                         float64
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("councilbench-cost", flag.ContinueOnError)
	questions := fs.Int("questions", 20, "questions asked at each level")
	cfg := orchestrator.DefaultConfig()
	fs.IntVar(&cfg.AnswerMaxTokens, "answer-tokens", cfg.AnswerMaxTokens, "max_tokens of a Stage 1 answer")
	fs.IntVar(&cfg.RankingMaxTokens, "ranking-tokens", cfg.RankingMaxTokens, "max_tokens of a ranking")
	fs.IntVar(&cfg.SynthesisMaxTokens, "synthesis-tokens", cfg.SynthesisMaxTokens, "max_tokens of the synthesis")
	if err := fs.Parse(args); err != nil {
		return err
	}
	up := openroutertest.NewServer()
	defer up.Close()
	client, err := openrouter.New(up.Client(), openrouter.Config{BaseURL: up.URL(), APIKey: up.Key()})
	if err != nil {
		return err
	}
	ctx := context.Background()
	catalog := cost.NewCatalog(client)
	if _, err := catalog.ListModels(ctx); err != nil {
		return err
	}
	council, err := orchestrator.New(client, cfg, orchestrator.WithPrices(catalog))
	if err != nil {
		return err
	}

	uncapped := make([]float64, *questions)
	results := make([]outcome, len(levels))
	for i, lv := range levels {
		for q := range *questions {
			req := orchestrator.Request{Query: question(q), MaxCostUSD: lv.fraction * uncapped[q]}
			o, spent, err := consult(ctx, council, req)
			if err != nil {
				return fmt.Errorf("level %s, question %d: %w", lv.name, q, err)
			}
			if lv.fraction == 0 {
				uncapped[q] = spent
			}
			r := &results[i]
			r.n++
			r.refused += o.refused
			r.degraded += o.degraded
			r.stages += o.stages
			r.cost += spent
		}
	}

	fmt.Fprintf(out, "Balanced tier against the fake upstream at the simulator's prices; max_tokens %d (answers), %d (rankings), %d (synthesis); %d questions per cap.\n\n",
		cfg.AnswerMaxTokens, cfg.RankingMaxTokens, cfg.SynthesisMaxTokens, *questions)
	fmt.Fprintln(out, "| Cap (of the uncapped cost) | Mean actual cost | Stages run (mean) | Degraded | Refused (BUDGET_TOO_LOW) |")
	fmt.Fprintln(out, "|---|---:|---:|---:|---:|")
	for i, lv := range levels {
		r := results[i]
		served := r.n - r.refused
		stages, cost := "–", "–"
		if served > 0 {
			stages = fmt.Sprintf("%.2f", float64(r.stages)/float64(served))
			cost = fmt.Sprintf("$%.5f", r.cost/float64(served))
		}
		fmt.Fprintf(out, "| %s | %s | %s | %.0f %% | %.0f %% |\n", lv.name, cost, stages,
			100*float64(r.degraded)/float64(r.n), 100*float64(r.refused)/float64(r.n))
	}
	return nil
}

// consult runs one consultation and returns whether it was refused or
// degraded, the stages it ran and what it cost.
func consult(ctx context.Context, c *orchestrator.Council, req orchestrator.Request) (o outcome, spent float64, err error) {
	err = c.Consult(ctx, req, func(ev orchestrator.Event) error {
		switch p := ev.Payload.(type) {
		case *orchestrator.StageStarted:
			o.stages++
		case *orchestrator.ConsultCompleted:
			spent = p.Usage.Cost
			if p.Degraded {
				o.degraded = 1
			}
		}
		return nil
	})
	var tooLow *orchestrator.BudgetTooLowError
	if errors.As(err, &tooLow) {
		return outcome{refused: 1}, 0, nil
	}
	return o, spent, err
}

// question returns the q-th question, of varied length.
func question(q int) string {
	return fmt.Sprintf("Question %d: how should a team weigh %s when choosing a database?", q, strings.Repeat("latency, cost and durability ", 1+q%5))
}
