package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// listModelsTimeout bounds the provider's model listing at startup.
const listModelsTimeout = 30 * time.Second

// checkModels asks the provider which models it serves and fits cfg to
// them: it sets cfg.KnownModels to that list, drops configured council
// models the provider does not serve, and sets cfg.Chairman to the first
// served of the configured chairman, the tier's chairman and the first
// remaining council model. Every model it passes over is logged as a
// warning. It fails when the models cannot be listed or too few council
// models remain.
func checkModels(ctx context.Context, lister provider.ModelLister, cfg *orchestrator.Config, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, listModelsTimeout)
	defer cancel()
	models, err := lister.ListModels(ctx)
	if err != nil {
		return fmt.Errorf("listing the provider's models: %w", err)
	}
	served := provider.ModelIDs(models)
	if len(served) == 0 {
		return fmt.Errorf("the provider serves no models")
	}
	known := make(map[string]bool, len(served))
	for _, m := range served {
		known[m] = true
	}
	cfg.KnownModels = served

	tier, _ := orchestrator.LookupTier(cfg.Tier)
	configured, source := cfg.Council, envModels
	if len(configured) == 0 {
		configured, source = tier.Council, envTier+"="+tier.Name
	}
	var council []string
	for _, m := range configured {
		if known[m] {
			council = append(council, m)
		} else {
			log.Warn("council model not served by the provider; dropped", "model", m, "from", source)
		}
	}
	minAnswers := cfg.MinAnswers
	if minAnswers <= 0 {
		minAnswers = orchestrator.DefaultConfig().MinAnswers
	}
	if len(council) < minAnswers {
		return fmt.Errorf("only %d of the council models %v (%s) are served by the provider; a council needs at least %d",
			len(council), configured, source, minAnswers)
	}
	if len(cfg.Council) > 0 {
		cfg.Council = council
	}

	chairman := ""
	for _, m := range []string{cfg.Chairman, tier.Chairman} {
		if m == "" {
			continue
		}
		if known[m] {
			chairman = m
			break
		}
		log.Warn("chairman model not served by the provider", "model", m)
	}
	if chairman == "" {
		chairman = council[0]
		log.Warn("using a council model as chairman", "model", chairman)
	}
	cfg.Chairman = chairman
	return nil
}
