package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/provider"
)

// ModelCatalog is the provider's model list, as ListModels reports it:
// the models and when they were fetched. *cost.Catalog is one.
type ModelCatalog interface {
	Models(ctx context.Context) ([]provider.Model, time.Time, error)
}

// ListModels reports the provider's models with their prices; without a
// ModelCatalog (see [WithModelCatalog]) it is Unimplemented.
func (s *service) ListModels(ctx context.Context, _ *councilv1.ListModelsRequest) (*councilv1.ListModelsResponse, error) {
	if s.catalog == nil {
		return nil, toStatus(errNoCatalog)
	}
	models, fetched, err := s.catalog.Models(ctx)
	if err != nil {
		s.log.WarnContext(ctx, "listing the provider's models failed", "error", err)
		return nil, toStatus(errModelsUnavailable)
	}
	resp := &councilv1.ListModelsResponse{Models: make([]*councilv1.ModelInfo, len(models)), FetchTime: timestamppb.New(fetched)}
	for i, m := range models {
		resp.Models[i] = &councilv1.ModelInfo{
			Id:                 m.ID,
			Name:               m.Name,
			ContextLength:      int64(m.ContextLength),
			PromptPriceUsd:     m.Price.Prompt,
			CompletionPriceUsd: m.Price.Completion,
		}
	}
	return resp, nil
}
