package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// Waits between attempts to list the provider's models at startup: the
// first, and the most it grows to by doubling.
const (
	startupRetryFirst = 500 * time.Millisecond
	startupRetryMax   = 5 * time.Second
)

// modelCheck says how councild checks its models against the provider at
// startup, and names the settings the models came from for its messages.
type modelCheck struct {
	// modelsFrom, chairmanFrom and tierFrom name the flag or variable that
	// set the council, the chairman and the default tier.
	modelsFrom, chairmanFrom, tierFrom string
	// baseURL is the provider's address, for the logs.
	baseURL string
	// timeout bounds the listing, retries included; timeoutFrom names
	// its setting.
	timeout     time.Duration
	timeoutFrom string
}

// checkModels asks the provider which models it serves and fits cfg to
// them: it sets cfg.KnownModels to that list. Explicitly configured models
// must all be served: a council model or chairman the provider does not
// serve is an error naming the setting. The default tier's models the
// provider does not serve are dropped with a warning, and its chairman, if
// not served, is replaced by the first remaining council model. It fails
// when the models cannot be listed within mc.timeout, retrying with backoff
// while the provider cannot be reached, or when too few council models
// remain.
func checkModels(ctx context.Context, lister provider.ModelLister, cfg *orchestrator.Config, mc modelCheck, log *slog.Logger) error {
	models, err := listModels(ctx, lister, mc, log)
	if err != nil {
		return err
	}
	served := provider.ModelIDs(models)
	if len(served) == 0 {
		return fmt.Errorf("the provider at %s serves no models", mc.baseURL)
	}
	known := make(map[string]bool, len(served))
	for _, m := range served {
		known[m] = true
	}
	cfg.KnownModels = served
	minAnswers := cfg.MinAnswers
	if minAnswers <= 0 {
		minAnswers = orchestrator.DefaultConfig().MinAnswers
	}

	var errs []error
	if unserved := notIn(cfg.Council, known); len(unserved) > 0 {
		errs = append(errs, fmt.Errorf("%s: the provider does not serve %s", mc.modelsFrom, strings.Join(unserved, ", ")))
	}
	if cfg.Chairman != "" && !known[cfg.Chairman] {
		errs = append(errs, fmt.Errorf("%s: the provider does not serve %s", mc.chairmanFrom, cfg.Chairman))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	tier, _ := orchestrator.FindTier(tiersOf(*cfg), cfg.Tier)
	council := cfg.Council
	if len(council) == 0 {
		for _, m := range tier.Council {
			if known[m] {
				council = append(council, m)
			} else {
				log.Warn("council model not served by the provider; dropped", "model", m, "tier", tier.Name, "from", mc.tierFrom)
			}
		}
		if len(council) < minAnswers {
			return fmt.Errorf("%s=%s: only %d of the tier's council models %v are served by the provider; a council needs at least %d (set %s)",
				mc.tierFrom, tier.Name, len(council), tier.Council, minAnswers, mc.modelsFrom)
		}
	}
	if cfg.Chairman == "" {
		cfg.Chairman = tier.Chairman
		if !known[cfg.Chairman] {
			log.Warn("the tier's chairman is not served by the provider; using a council model", "model", tier.Chairman, "tier", tier.Name, "chairman", council[0])
			cfg.Chairman = council[0]
		}
	}
	return nil
}

// notIn returns the models of ms that known lacks.
func notIn(ms []string, known map[string]bool) []string {
	var out []string
	for _, m := range ms {
		if !known[m] {
			out = append(out, m)
		}
	}
	return out
}

// listModels lists the provider's models, retrying with backoff for up to
// mc.timeout while the failure is one that may pass (the provider is
// unreachable, overloaded, rate limiting). Each failed attempt is logged
// with the provider's address and the cause.
func listModels(ctx context.Context, lister provider.ModelLister, mc modelCheck, log *slog.Logger) ([]provider.Model, error) {
	ctx, cancel := context.WithTimeout(ctx, mc.timeout)
	defer cancel()
	wait := startupRetryFirst
	for attempt := 1; ; attempt++ {
		models, err := lister.ListModels(ctx)
		if err == nil {
			return models, nil
		}
		pe := provider.AsError(err)
		cause := describe(pe)
		if !pe.Retryable() || ctx.Err() != nil {
			if ctx.Err() != nil && attempt > 1 {
				return nil, fmt.Errorf("the provider at %s could not be reached within %s (%s): %s: %w", mc.baseURL, mc.timeout, mc.timeoutFrom, cause, err)
			}
			return nil, fmt.Errorf("listing the models of the provider at %s: %s: %w", mc.baseURL, cause, err)
		}
		if wait > time.Until(deadline(ctx)) {
			return nil, fmt.Errorf("the provider at %s could not be reached within %s (%s): %s: %w", mc.baseURL, mc.timeout, mc.timeoutFrom, cause, err)
		}
		log.Warn("cannot list the provider's models; retrying", "base_url", mc.baseURL, "attempt", attempt, "cause", cause, "retry_in", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, startupRetryMax)
	}
}

// deadline returns ctx's deadline; listModels always sets one.
func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// describe says why a listing failed without upstream text: the error's
// safe form and, for a connection failure, the local network error.
func describe(pe *provider.Error) string {
	var op *net.OpError
	if pe.Kind == provider.KindNetwork && errors.As(pe.Err, &op) && op.Err != nil {
		return pe.Error() + " (" + op.Op + ": " + op.Err.Error() + ")"
	}
	return pe.Error()
}
