package server

import (
	"context"
	"math"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/councilhq/council/cost"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/openrouter"
)

var noConsult = ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error { return nil })

func TestListModels(t *testing.T) {
	up := openroutertest.NewServer()
	defer up.Close()
	newCatalog := func(key string) *cost.Catalog {
		c, err := openrouter.New(up.Client(), openrouter.Config{BaseURL: up.URL(), APIKey: key})
		if err != nil {
			t.Fatal(err)
		}
		return cost.NewCatalog(c)
	}
	ctx := context.Background()

	h := start(t, noConsult, WithModelCatalog(newCatalog(up.Key())))
	resp, err := h.client.ListModels(ctx, &councilv1.ListModelsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, m := range resp.GetModels() {
		if m.GetId() == "anthropic/claude-haiku-4.5" {
			found = true
			if math.Abs(m.GetPromptPriceUsd()-1e-6) > 1e-15 || math.Abs(m.GetCompletionPriceUsd()-5e-6) > 1e-15 || m.GetContextLength() == 0 {
				t.Errorf("claude-haiku-4.5 = %v", m)
			}
		}
	}
	if !found || resp.GetFetchTime().AsTime().IsZero() {
		t.Errorf("ListModels = %v", resp)
	}

	// The provider refuses and nothing is cached: Unavailable, with no
	// upstream text.
	h = start(t, noConsult, WithModelCatalog(newCatalog("wrong")))
	_, err = h.client.ListModels(ctx, &councilv1.ListModelsRequest{})
	if info, _ := errorInfo(t, err); status.Code(err) != codes.Unavailable || info.GetReason() != ReasonModelsUnavailable {
		t.Errorf("ListModels with the provider failing: %v", err)
	}
	if msg := status.Convert(err).Message(); msg != "the provider's model list is unavailable; retry later" {
		t.Errorf("message %q", msg)
	}

	_, err = start(t, noConsult).client.ListModels(ctx, &councilv1.ListModelsRequest{})
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("ListModels without a catalog: %v", err)
	}
}
