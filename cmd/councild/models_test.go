package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

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
			name:         "configured council partly served",
			cfg:          orchestrator.Config{Tier: "balanced", Council: []string{"a", "gone", "b"}, Chairman: "c"},
			served:       []string{"a", "b", "c"},
			wantCouncil:  []string{"a", "b"},
			wantChairman: "c",
			wantWarn:     []string{"model=gone"},
		},
		{
			name:         "unserved chairman falls back to the tier's",
			cfg:          orchestrator.Config{Tier: "balanced", Council: []string{"a", "b"}, Chairman: "gone"},
			served:       []string{"a", "b", balanced.Chairman},
			wantCouncil:  []string{"a", "b"},
			wantChairman: balanced.Chairman,
			wantWarn:     []string{"model=gone"},
		},
		{
			name:         "no served chairman falls back to the council",
			cfg:          orchestrator.Config{Tier: "balanced", Council: []string{"a", "b"}},
			served:       []string{"a", "b"},
			wantCouncil:  []string{"a", "b"},
			wantChairman: "a",
			wantWarn:     []string{"model=" + balanced.Chairman, "council model as chairman"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			cfg := tc.cfg
			err := checkModels(context.Background(), served(tc.served...), &cfg, slog.New(slog.NewTextHandler(&logs, nil)))
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
	tests := []struct {
		name   string
		cfg    orchestrator.Config
		lister provider.ModelLister
		want   string
	}{
		{"listing fails", orchestrator.Config{Tier: "speed"},
			listerFunc(func(context.Context) ([]provider.Model, error) {
				return nil, &provider.Error{Kind: provider.KindAuth, Message: "bad key"}
			}),
			"listing"},
		{"no models at all", orchestrator.Config{Tier: "speed"}, served(), "no models"},
		{"no configured model served", orchestrator.Config{Tier: "speed", Council: []string{"x", "y"}}, served("a", "b"), "only 0"},
		{"too few tier models served", orchestrator.Config{Tier: "speed"}, served("openai/gpt-4o-mini"), "only 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			err := checkModels(context.Background(), tc.lister, &cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestCheckModelsBoundsTheListing(t *testing.T) {
	cfg := orchestrator.Config{Tier: "speed"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := checkModels(ctx, listerFunc(func(ctx context.Context) ([]provider.Model, error) {
		<-ctx.Done()
		return nil, provider.AsError(ctx.Err())
	}), &cfg, slog.New(slog.DiscardHandler))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want one wrapping context.Canceled", err)
	}
}
