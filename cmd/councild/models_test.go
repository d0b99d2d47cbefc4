package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// listerFunc adapts a function to provider.ModelLister.
type listerFunc func(ctx context.Context) ([]provider.Model, error)

func (f listerFunc) ListModels(ctx context.Context) ([]provider.Model, error) { return f(ctx) }

func served(ids ...string) provider.ModelLister {
	models := make([]provider.Model, len(ids))
	for i, id := range ids {
		models[i] = provider.Model{ID: id}
	}
	return listerFunc(func(context.Context) ([]provider.Model, error) { return models, nil })
}

// testCheck is a modelCheck as loadConfig makes it from the environment.
var testCheck = modelCheck{modelsFrom: envModels, chairmanFrom: envChairman, tierFrom: envTier, timeoutFrom: envStartupTimeout,
	baseURL: "http://upstream.test/api/v1", timeout: 30 * time.Second}

func TestCheckModels(t *testing.T) {
	balanced, _ := orchestrator.LookupTier("balanced")
	tests := []struct {
		name         string
		cfg          orchestrator.Config
		served       []string
		wantCouncil  []string
		wantChairman string
		wantWarn     []string
	}{
		{
			name:         "tier fully served",
			cfg:          orchestrator.Config{Tier: "balanced"},
			served:       append(slices.Clone(balanced.Council), balanced.Chairman),
			wantChairman: balanced.Chairman,
		},
		{
			name:         "configured council and chairman served",
			cfg:          orchestrator.Config{Tier: "balanced", Council: []string{"a", "b"}, Chairman: "c"},
			served:       []string{"a", "b", "c"},
			wantCouncil:  []string{"a", "b"},
			wantChairman: "c",
		},
		{
			name:         "tier partly served",
			cfg:          orchestrator.Config{Tier: "balanced"},
			served:       append(slices.Clone(balanced.Council[1:]), balanced.Chairman),
			wantChairman: balanced.Chairman,
			wantWarn:     []string{"model=" + balanced.Council[0]},
		},
		{
			name: "the configured tiers, not the built-in ones",
			cfg: orchestrator.Config{Tier: "cost", Tiers: []orchestrator.Tier{
				{Name: "cost", Council: []string{"c/1", "c/2", "c/4"}, Chairman: "c/3", ExpectedLatency: time.Second},
			}},
			served:       []string{"c/1", "c/2", "c/3"},
			wantChairman: "c/3",
			wantWarn:     []string{"model=c/4"},
		},
		{
			name:         "no served chairman falls back to the council",
			cfg:          orchestrator.Config{Tier: "balanced", Council: []string{"a", "b"}},
			served:       []string{"a", "b"},
			wantCouncil:  []string{"a", "b"},
			wantChairman: "a",
			wantWarn:     []string{"model=" + balanced.Chairman, "chairman=a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tc.cfg
			err := checkModels(context.Background(), served(tc.served...), &cfg, testCheck, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("checkModels: %v", err)
			}
			if !slices.Equal(cfg.Council, tc.wantCouncil) || cfg.Chairman != tc.wantChairman {
				t.Errorf("council %v chairman %q, want %v %q", cfg.Council, cfg.Chairman, tc.wantCouncil, tc.wantChairman)
			}
			if !slices.Equal(cfg.KnownModels, tc.served) {
				t.Errorf("KnownModels = %v, want %v", cfg.KnownModels, tc.served)
			}
			for _, w := range tc.wantWarn {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("logs lack %q:\n%s", w, logs.String())
				}
			}
			if len(tc.wantWarn) == 0 && strings.Contains(logs.String(), "WARN") {
				t.Errorf("unexpected warnings:\n%s", logs.String())
			}
		})
	}
}

func TestCheckModelsFails(t *testing.T) {
	flags := testCheck
	flags.modelsFrom, flags.chairmanFrom = "-models", "-chairman"
	tests := []struct {
		name   string
		cfg    orchestrator.Config
		check  modelCheck
		lister provider.ModelLister
		want   []string
	}{
		{"bad key", orchestrator.Config{Tier: "speed"}, testCheck,
			listerFunc(func(context.Context) ([]provider.Model, error) {
				return nil, &provider.Error{Kind: provider.KindAuth, Message: "bad key"}
			}),
			[]string{"http://upstream.test/api/v1", "auth"}},
		{"no models at all", orchestrator.Config{Tier: "speed"}, testCheck, served(), []string{"no models"}},
		{"configured models not served", orchestrator.Config{Tier: "speed", Council: []string{"x", "a", "y"}}, testCheck, served("a", "b"),
			[]string{envModels, "x, y"}},
		{"configured chairman not served, named by its flag", orchestrator.Config{Tier: "speed", Council: []string{"a", "b"}, Chairman: "z"}, flags,
			served("a", "b"), []string{"-chairman", "z"}},
		{"too few tier models served", orchestrator.Config{Tier: "speed"}, testCheck, served("openai/gpt-4.1-nano"), []string{envTier + "=speed", "only 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := checkModels(context.Background(), tc.lister, &cfg, tc.check, slog.New(slog.DiscardHandler))
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error = %v, want one mentioning %q", err, w)
				}
			}
		})
	}
}

// An unreachable provider is retried with backoff, each attempt logged with
// the provider's address and the cause, until it answers.
func TestCheckModelsRetriesAnUnreachableProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		calls := 0
		lister := listerFunc(func(context.Context) ([]provider.Model, error) {
			if calls++; calls < 4 {
				return nil, &provider.Error{Kind: provider.KindNetwork, Message: "connection failed"}
			}
			return []provider.Model{{ID: "a"}, {ID: "b"}}, nil
		})
		var logs bytes.Buffer
		cfg := orchestrator.Config{Tier: "speed", Council: []string{"a", "b"}, Chairman: "b"}
		start := time.Now()
		if err := checkModels(context.Background(), lister, &cfg, testCheck, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
			t.Fatalf("checkModels: %v", err)
		}
		if calls != 4 {
			t.Errorf("%d calls, want 4", calls)
		}
		// 0.5 s, 1 s and 2 s of backoff.
		if waited := time.Since(start); waited != 3500*time.Millisecond {
			t.Errorf("waited %v, want 3.5s", waited)
		}
		if n := strings.Count(logs.String(), "base_url=http://upstream.test/api/v1"); n != 3 || !strings.Contains(logs.String(), "cause=") {
			t.Errorf("want 3 retry lines with the address and the cause:\n%s", logs.String())
		}
	})
}

// A provider that stays unreachable fails startup once the startup timeout
// has passed, with the address and the setting in the error.
func TestCheckModelsGivesUpAfterTheStartupTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		check := testCheck
		check.timeout = 10 * time.Second
		lister := listerFunc(func(context.Context) ([]provider.Model, error) {
			return nil, &provider.Error{Kind: provider.KindNetwork, Message: "connection failed"}
		})
		cfg := orchestrator.Config{Tier: "speed"}
		start := time.Now()
		err := checkModels(context.Background(), lister, &cfg, check, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "http://upstream.test/api/v1") || !strings.Contains(err.Error(), envStartupTimeout) {
			t.Errorf("error = %v, want the address and %s", err, envStartupTimeout)
		}
		if waited := time.Since(start); waited > check.timeout {
			t.Errorf("gave up after %v, past the %v timeout", waited, check.timeout)
		}
	})
}

func TestCheckModelsBoundsTheListing(t *testing.T) {
	cfg := orchestrator.Config{Tier: "speed"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := checkModels(ctx, listerFunc(func(ctx context.Context) ([]provider.Model, error) {
		<-ctx.Done()
		return nil, provider.AsError(ctx.Err())
	}), &cfg, testCheck, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
}
