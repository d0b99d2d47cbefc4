package main

import (
	"fmt"
	"net/http"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/provider/sim"
)

// modelClient is what councild needs of a provider: completions and the
// list of models it serves.
type modelClient interface {
	provider.Completer
	provider.ModelLister
}

// newProvider returns the configured provider's client.
func newProvider(c config) (modelClient, error) {
	switch c.provider {
	case providerOpenRouter:
		// No overall timeout: completions stream for as long as their
		// context allows.
		// HTTP/2 from a pool that dials one connection at a time, so a
		// burst of calls opens the few connections it needs.
		transport := openrouter.NewTransport(openrouter.WithReadTick(c.upstreamReadTick))
		httpClient := &http.Client{Transport: openrouter.NewRoundTripper(transport)}
		client, err := openrouter.New(httpClient, openrouter.Config{
			BaseURL: c.baseURL,
			APIKey:  c.apiKey,
			Title:   "council",
		})
		if err != nil {
			return nil, err
		}
		return client, nil
	case providerSim:
		cfg := sim.DefaultConfig()
		cfg.Scale = c.simScale
		return sim.New(cfg), nil
	}
	return nil, fmt.Errorf("unknown provider %q", c.provider)
}
