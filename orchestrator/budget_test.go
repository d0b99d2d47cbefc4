package orchestrator

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

var (
	pricedCouncil = []string{"openai/gpt-5-mini", "anthropic/claude-haiku-4.5", "google/gemini-2.5-flash", "mistralai/mistral-medium-3.1"}
	pricedChair   = "anthropic/claude-sonnet-4.5"
)

// pricedCouncil returns a council calling the fake upstream through the
// OpenRouter client, with the upstream's listed prices.
func newPricedCouncil(t tb, up *openroutertest.Server) *Council {
	t.Helper()
	client, err := openrouter.New(up.Client(), openrouter.Config{BaseURL: up.URL(), APIKey: up.Key()})
	if err != nil {
		t.Fatal(err)
	}
	catalog := cost.NewCatalog(client)
	if _, err := catalog.ListModels(context.Background()); err != nil {
		t.Fatal(err)
	}
	c, err := New(client, Config{Council: pricedCouncil, Chairman: pricedChair}, WithPrices(catalog))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// capped runs one consultation under maxCost.
func capped(t tb, c *Council, maxCost float64) ([]Event, error) {
	t.Helper()
	return consult(c, context.Background(), Request{Query: "Why is the sky blue?", MaxCostUSD: maxCost})
}

func TestCostCapPlans(t *testing.T) {
	up := openroutertest.NewServer()
	defer up.Close()
	c := newPricedCouncil(t, up)

	evs, err := capped(t, c, 0)
	if err != nil {
		t.Fatal(err)
	}
	uncapped := payloads[*ConsultCompleted](evs)[0]
	if len(payloads[*BudgetApplied](evs)) != 0 || uncapped.Usage.Cost <= 0 || uncapped.EstimatedCostUSD < uncapped.Usage.Cost {
		t.Fatalf("uncapped: %d budget events, cost %g, estimate %g", len(payloads[*BudgetApplied](evs)), uncapped.Usage.Cost, uncapped.EstimatedCostUSD)
	}

	// The plan's estimate bounds each ranking by its token limit; a cap at
	// it cuts nothing.
	evs, err = capped(t, c, 1e6)
	if err != nil {
		t.Fatal(err)
	}
	full := payloads[*BudgetApplied](evs)[1]
	fullPlan := full.SpentUSD + full.EstimatedCostUSD
	evs, err = capped(t, c, fullPlan)
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	done := payloads[*ConsultCompleted](evs)[0]
	if done.Degraded || len(payloads[*BudgetApplied](evs)) != 2 || done.CapOvershootUSD != 0 {
		t.Errorf("cap at the estimate: degraded %v, %d budget events, overshoot %g", done.Degraded, len(payloads[*BudgetApplied](evs)), done.CapOvershootUSD)
	}

	// Lower caps cut reviewers, then the chairman.
	_, minimum := c.minimumCost(plan{query: "Why is the sky blue?", council: pricedCouncil, chairman: pricedChair})
	seen := map[string]bool{}
	for i := 0; i <= 40; i++ {
		maxCost := minimum + (fullPlan-minimum)*float64(i)/40
		evs, err := capped(t, c, maxCost)
		if err != nil {
			t.Fatalf("cap %g: %v", maxCost, err)
		}
		checkStream(t, evs, true)
		done := payloads[*ConsultCompleted](evs)[0]
		if done.Usage.Cost > maxCost {
			t.Errorf("cap %g: spent %g", maxCost, done.Usage.Cost)
		}
		plan := payloads[*BudgetApplied](evs)[1]
		switch {
		case plan.ReviewSkipped:
			seen["skip"] = true
			if len(payloads[*ModelRanked](evs)) != 0 || len(payloads[*StageStarted](evs)) != 2 {
				t.Errorf("cap %g: review skipped but ran", maxCost)
			}
		case plan.Chairman != "":
			seen["chairman"] = true
			if payloads[*FinalAnswer](evs)[0].Model != plan.Chairman {
				t.Errorf("cap %g: the answer is not by the cheaper chairman %s", maxCost, plan.Chairman)
			}
		case len(plan.DroppedReviewers) > 0:
			seen["reviewers"] = true
			n := len(payloads[*ModelRanked](evs))
			for _, f := range payloads[*ModelFailed](evs) {
				if f.Stage == StageReview {
					n++ // a review the final answer made unnecessary
				}
			}
			if n != len(pricedCouncil)-len(plan.DroppedReviewers) {
				t.Errorf("cap %g: %d rankings with %d reviewers dropped", maxCost, n, len(plan.DroppedReviewers))
			}
		default:
			seen["nothing"] = true
		}
		if (plan.ReviewSkipped || plan.Chairman != "" || len(plan.DroppedReviewers) > 0) &&
			(!done.Degraded || len(done.Reasons) != 1 || done.Reasons[0] != DegradedBudget) {
			t.Errorf("cap %g: a cut consultation has degraded %v %v", maxCost, done.Degraded, done.Reasons)
		}
	}
	for _, want := range []string{"chairman", "reviewers", "nothing"} {
		if !seen[want] {
			t.Errorf("no cap between the minimum and the estimate gave %q (saw %v)", want, seen)
		}
	}

	// Too low: refused before any upstream call or event.
	before := len(up.Recorded())
	evs, err = capped(t, c, minimum*0.99)
	var tooLow *BudgetTooLowError
	if !errors.As(err, &tooLow) || math.Abs(tooLow.MinimumUSD-minimum) > 1e-12 || len(evs) != 0 || len(up.Recorded()) != before {
		t.Errorf("cap below the minimum: %v, %d events, %d upstream calls", err, len(evs), len(up.Recorded())-before)
	}
}

func TestCostCapSkipsReview(t *testing.T) {
	// Reviews are dear (long prompts at a high prompt price) and the
	// chairman cheap: at the minimum cap only the chairman fits.
	var opts []openroutertest.Option
	for _, m := range pricedCouncil {
		opts = append(opts, openroutertest.WithPrice(m, provider.Price{Prompt: 100e-6, Completion: 0.1e-6}))
	}
	up := openroutertest.NewServer(append(opts, openroutertest.WithPrice(pricedChair, provider.Price{Prompt: 0.1e-6, Completion: 0.1e-6}))...)
	defer up.Close()
	c := newPricedCouncil(t, up)
	_, minimum := c.minimumCost(plan{query: "Why is the sky blue?", council: pricedCouncil, chairman: pricedChair})
	evs, err := capped(t, c, minimum)
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	plan := payloads[*BudgetApplied](evs)[1]
	done := payloads[*ConsultCompleted](evs)[0]
	if !plan.ReviewSkipped || len(payloads[*ModelRanked](evs)) != 0 || len(payloads[*StageStarted](evs)) != 2 || done.Usage.Cost > minimum ||
		len(done.Reasons) != 1 || done.Reasons[0] != DegradedBudget || reviewCalls(up) != 0 {
		t.Errorf("minimum cap: plan %+v, %d rankings, spent %g of %g, reasons %v", plan, len(payloads[*ModelRanked](evs)), done.Usage.Cost, minimum, done.Reasons)
	}
	if final := payloads[*FinalAnswer](evs)[0]; final.Model != pricedChair {
		t.Errorf("answer by %s, want the chairman", final.Model)
	}
}

// Property (cost cap): for random prices, latencies, markups of the
// charged cost over the list price and caps, a consultation either is
// refused before any upstream call or spends at most cap + overshoot, where
// the overshoot comes only from calls costing more than estimated: with a
// markup m, spend/m <= cap. The overshoot reported is exactly spend - cap.
func TestPropertyCostCapBoundsSpend(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		markup := rapid.Float64Range(1, 2).Draw(rt, "markup")
		opts := []openroutertest.Option{openroutertest.WithCostMarkup(markup)}
		for _, m := range append([]string{pricedChair}, pricedCouncil...) {
			opts = append(opts,
				openroutertest.WithPrice(m, provider.Price{
					Prompt:     rapid.Float64Range(0, 20e-6).Draw(rt, "prompt price "+m),
					Completion: rapid.Float64Range(0, 60e-6).Draw(rt, "completion price "+m),
				}),
				openroutertest.WithBehavior(m, openroutertest.Behavior{
					Latency: time.Duration(rapid.IntRange(0, 3).Draw(rt, "latency "+m)) * time.Millisecond,
				}))
		}
		up := openroutertest.NewServer(opts...)
		defer up.Close()
		c := newPricedCouncil(rt, up)
		_, minimum := c.minimumCost(plan{query: "Why is the sky blue?", council: pricedCouncil, chairman: pricedChair})
		maxCost := minimum * rapid.Float64Range(0.8, 4).Draw(rt, "cap over the minimum")
		if maxCost <= 0 {
			return
		}
		evs, err := capped(rt, c, maxCost)
		var tooLow *BudgetTooLowError
		if errors.As(err, &tooLow) {
			if maxCost >= minimum || len(up.Recorded()) != 0 || len(evs) != 0 {
				rt.Fatalf("refused a cap of %g (minimum %g) after %d calls", maxCost, minimum, len(up.Recorded()))
			}
			return
		}
		if err != nil {
			rt.Fatal(err)
		}
		checkStream(rt, evs, true)
		done := payloads[*ConsultCompleted](evs)[0]
		spent := done.Usage.Cost
		if spent/markup > maxCost*(1+1e-9) {
			rt.Fatalf("spent %g under a cap of %g with markup %g", spent, maxCost, markup)
		}
		if want := max(0, spent-maxCost); math.Abs(done.CapOvershootUSD-want) > 1e-12 {
			rt.Fatalf("overshoot reported %g, want %g", done.CapOvershootUSD, want)
		}
		if markup == 1 && done.CapOvershootUSD > 1e-12 {
			rt.Fatalf("overshoot %g with costs at the list price", done.CapOvershootUSD)
		}
	})
}

// reviewCalls counts the ranking requests the upstream received.
func reviewCalls(up *openroutertest.Server) int {
	n := 0
	for _, r := range up.Recorded() {
		if len(r.Messages) > 0 && strings.HasPrefix(r.Messages[0].Content, "You are evaluating") {
			n++
		}
	}
	return n
}
