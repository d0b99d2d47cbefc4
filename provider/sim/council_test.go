package sim_test

import (
	"context"
	"strings"
	"testing"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

// TestCouncilParsesEveryRanking runs real consultations on the simulator,
// with and without stage metadata (the latter is what the fake OpenRouter
// sees), and checks that every reviewer's ranking parses in full.
func TestCouncilParsesEveryRanking(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Scale = 0.001
	p := sim.New(cfg)
	noMetadata := provider.CompleterFunc(func(ctx context.Context, req *provider.Request) (*provider.Response, error) {
		req = req.Clone()
		req.Metadata = nil
		return p.Complete(ctx, req)
	})
	for name, c := range map[string]provider.Completer{"metadata": p, "prompt only": noMetadata} {
		for _, tier := range orchestrator.Tiers() {
			t.Run(name+"/"+tier.Name, func(t *testing.T) {
				council, err := orchestrator.New(c, orchestrator.Config{Tier: tier.Name})
				if err != nil {
					t.Fatal(err)
				}
				var ranked int
				var final string
				err = council.Consult(context.Background(), orchestrator.Request{Query: question}, func(ev orchestrator.Event) error {
					switch e := ev.Payload.(type) {
					case *orchestrator.ModelRanked:
						ranked++
						if len(e.Ranking) != len(e.Labels) || len(e.Labels) == 0 {
							t.Errorf("%s ranked %v of %d labels:\n%s", e.Reviewer, e.Ranking, len(e.Labels), e.RawText)
						}
					case *orchestrator.FinalAnswer:
						final = e.Content
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if ranked == 0 {
					t.Error("no rankings")
				}
				if !strings.Contains(final, "**Recommended approach.**") || !strings.Contains(final, "rate limiting") {
					t.Errorf("final answer is not a synthesis of the question:\n%s", final)
				}
			})
		}
	}
}
