package server

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// tierNames maps API tiers to orchestrator tier names.
var tierNames = map[councilv1.Tier]string{
	councilv1.Tier_TIER_SPEED:    "speed",
	councilv1.Tier_TIER_BALANCED: "balanced",
	councilv1.Tier_TIER_COST:     "cost",
}

// tierEnum returns the API tier of an orchestrator tier name, or
// TIER_UNSPECIFIED when it has none.
func tierEnum(name string) councilv1.Tier {
	for t, n := range tierNames {
		if n == name {
			return t
		}
	}
	return councilv1.Tier_TIER_UNSPECIFIED
}

// toRequest converts a validated request to the domain's.
func toRequest(req *councilv1.ConsultRequest) orchestrator.Request {
	out := orchestrator.Request{
		Query:      req.GetQuery(),
		Tier:       tierNames[req.GetTier()],
		Council:    slices.Clone(req.GetCouncilModels()),
		Chairman:   req.GetChairmanModel(),
		RequestID:  req.GetRequestId(),
		MaxCostUSD: req.GetMaxCostUsd(),

		StreamAnswers: req.GetStreamAnswers(),
	}
	if w := req.GetDeltaFlushWindow(); w != nil {
		d := w.AsDuration()
		out.DeltaFlushWindow = &d
	}
	if sc := req.GetStragglerCutoff(); sc != nil {
		out.StragglerCutoff = &orchestrator.StragglerCutoff{Floor: sc.GetFloor().AsDuration(), Multiple: sc.GetMultiple()}
	}
	for _, t := range req.GetHistory() {
		role := provider.RoleUser
		if t.GetRole() == councilv1.Role_ROLE_ASSISTANT {
			role = provider.RoleAssistant
		}
		out.History = append(out.History, provider.Message{Role: role, Content: t.GetContent()})
	}
	return out
}

// toTierInfos converts tiers for ListTiers, skipping those without an API
// enum value.
func toTierInfos(tiers []orchestrator.Tier, defaultTier string) []*councilv1.TierInfo {
	out := make([]*councilv1.TierInfo, 0, len(tiers))
	for _, t := range tiers {
		e := tierEnum(t.Name)
		if e == councilv1.Tier_TIER_UNSPECIFIED {
			continue
		}
		out = append(out, &councilv1.TierInfo{
			Tier:            e,
			CouncilModels:   slices.Clone(t.Council),
			ChairmanModel:   t.Chairman,
			ExpectedLatency: durationpb.New(t.ExpectedLatency),
			CostPerQueryUsd: t.CostPerQuery,
			ServerDefault:   t.Name == defaultTier,
		})
	}
	return out
}

// toResponse converts a domain event to its wire form.
func toResponse(ev orchestrator.Event) (*councilv1.ConsultResponse, error) {
	resp := &councilv1.ConsultResponse{
		Sequence:       ev.Sequence,
		ConsultationId: ev.ConsultationID,
		Stage:          toStage(ev.Stage),
		EmitTime:       timestamppb.New(ev.Time),
	}
	switch p := ev.Payload.(type) {
	case *orchestrator.ConsultStarted:
		resp.Event = &councilv1.ConsultResponse_ConsultStarted{ConsultStarted: &councilv1.ConsultStarted{
			RequestId:     p.RequestID,
			Tier:          tierEnum(p.Tier),
			CouncilModels: slices.Clone(p.Council),
			ChairmanModel: p.Chairman,
		}}
	case *orchestrator.StageStarted:
		resp.Event = &councilv1.ConsultResponse_StageStarted{StageStarted: &councilv1.StageStarted{
			Stage:  toStage(p.Stage),
			Models: slices.Clone(p.Models),
		}}
	case *orchestrator.ModelAnswered:
		resp.Event = &councilv1.ConsultResponse_ModelAnswered{ModelAnswered: &councilv1.ModelAnswered{
			Model:    p.Model,
			Content:  p.Content,
			Latency:  durationpb.New(p.Latency),
			Usage:    toUsage(p.Usage),
			Attempts: toInt32(p.Attempts),
			Late:     p.Late,
		}}
	case *orchestrator.AnswerDelta:
		resp.Event = &councilv1.ConsultResponse_AnswerDelta{AnswerDelta: &councilv1.AnswerDelta{
			Model: p.Model,
			Text:  p.Text,
		}}
	case *orchestrator.StragglersCut:
		resp.Event = &councilv1.ConsultResponse_StragglersCut{StragglersCut: &councilv1.StragglersCut{
			Models: slices.Clone(p.Models),
			Waited: durationpb.New(p.Waited),
		}}
	case *orchestrator.ModelRanked:
		resp.Event = &councilv1.ConsultResponse_ModelRanked{ModelRanked: &councilv1.ModelRanked{
			ReviewerModel: p.Reviewer,
			RawText:       p.RawText,
			Ranking:       slices.Clone(p.Ranking),
			Labels:        maps.Clone(p.Labels),
			Latency:       durationpb.New(p.Latency),
			Usage:         toUsage(p.Usage),
			Attempts:      toInt32(p.Attempts),
			Late:          p.Late,
		}}
	case *orchestrator.ModelFailed:
		resp.Event = &councilv1.ConsultResponse_ModelFailed{ModelFailed: &councilv1.ModelFailed{
			Stage:    toStage(p.Stage),
			Model:    p.Model,
			Reason:   toReason(p.Reason),
			Message:  p.Message,
			Attempts: toInt32(p.Attempts),
			Latency:  durationpb.New(p.Latency),
		}}
	case *orchestrator.RankingsAggregated:
		agg := &councilv1.RankingsAggregated{Reviewers: toInt32(p.Reviewers)}
		for _, e := range p.Entries {
			entry := &councilv1.AggregateEntry{
				Model:       e.Model,
				Votes:       toInt32(e.Votes),
				FirstPlaces: toInt32(e.FirstPlaces),
			}
			if e.HasRank && !math.IsInf(e.AverageRank, 0) && !math.IsNaN(e.AverageRank) {
				entry.AverageRank = &e.AverageRank
			}
			agg.Entries = append(agg.Entries, entry)
		}
		resp.Event = &councilv1.ConsultResponse_RankingsAggregated{RankingsAggregated: agg}
	case *orchestrator.SynthesisDelta:
		resp.Event = &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{
			Model: p.Model,
			Text:  p.Text,
		}}
	case *orchestrator.FinalAnswer:
		resp.Event = &councilv1.ConsultResponse_FinalAnswer{FinalAnswer: &councilv1.FinalAnswer{
			Model:    p.Model,
			Content:  p.Content,
			Latency:  durationpb.New(p.Latency),
			Usage:    toUsage(p.Usage),
			Fallback: p.Fallback,
		}}
	case *orchestrator.StageCompleted:
		resp.Event = &councilv1.ConsultResponse_StageCompleted{StageCompleted: &councilv1.StageCompleted{
			Stage:     toStage(p.Stage),
			Duration:  durationpb.New(p.Duration),
			Successes: toInt32(p.Successes),
			Failures:  toInt32(p.Failures),
		}}
	case *orchestrator.ConsultCompleted:
		resp.Event = &councilv1.ConsultResponse_ConsultCompleted{ConsultCompleted: &councilv1.ConsultCompleted{
			Duration:            durationpb.New(p.Duration),
			StageDurations:      toStageDurations(p.StageDurations),
			Degraded:            p.Degraded,
			ExcludedModels:      slices.Clone(p.Excluded),
			Usage:               toUsage(p.Usage),
			DegradedReasons:     toDegradedReasons(p.Reasons),
			CostCapOvershootUsd: p.CapOvershootUSD,
			EstimatedCostUsd:    p.EstimatedCostUSD,
		}}
	case *orchestrator.BudgetApplied:
		resp.Event = &councilv1.ConsultResponse_BudgetApplied{BudgetApplied: &councilv1.BudgetApplied{
			Stage:                toStage(p.Stage),
			MaxCostUsd:           p.MaxCostUSD,
			SpentUsd:             p.SpentUSD,
			EstimatedCostUsd:     p.EstimatedCostUSD,
			DroppedReviewers:     slices.Clone(p.DroppedReviewers),
			ChairmanModel:        p.Chairman,
			PlannedChairmanModel: p.PlannedChairman,
			ReviewSkipped:        p.ReviewSkipped,
			FallbackSkipped:      p.FallbackSkipped,
		}}
	default:
		return nil, fmt.Errorf("server: unsupported event payload %T", ev.Payload)
	}
	return resp, nil
}

// toDegradedReasons converts degraded reasons, dropping unknown ones.
func toDegradedReasons(rs []orchestrator.DegradedReason) []councilv1.DegradedReason {
	var out []councilv1.DegradedReason
	for _, r := range rs {
		switch r {
		case orchestrator.DegradedModelFailed:
			out = append(out, councilv1.DegradedReason_DEGRADED_REASON_MODEL_FAILED)
		case orchestrator.DegradedFallbackChairman:
			out = append(out, councilv1.DegradedReason_DEGRADED_REASON_FALLBACK_CHAIRMAN)
		case orchestrator.DegradedStragglerCut:
			out = append(out, councilv1.DegradedReason_DEGRADED_REASON_STRAGGLER_CUT)
		case orchestrator.DegradedBudget:
			out = append(out, councilv1.DegradedReason_DEGRADED_REASON_BUDGET)
		}
	}
	return out
}

// toStage converts a domain stage; unknown stages become STAGE_UNSPECIFIED.
func toStage(s orchestrator.Stage) councilv1.Stage {
	switch s {
	case orchestrator.StageCollect:
		return councilv1.Stage_STAGE_COLLECT
	case orchestrator.StageReview:
		return councilv1.Stage_STAGE_REVIEW
	case orchestrator.StageSynthesize:
		return councilv1.Stage_STAGE_SYNTHESIZE
	}
	return councilv1.Stage_STAGE_UNSPECIFIED
}

// toReason converts a failure reason; unknown reasons become REASON_UNSPECIFIED.
func toReason(r orchestrator.FailureReason) councilv1.ModelFailed_Reason {
	switch r {
	case orchestrator.ReasonTimeout:
		return councilv1.ModelFailed_REASON_TIMEOUT
	case orchestrator.ReasonRateLimited:
		return councilv1.ModelFailed_REASON_RATE_LIMITED
	case orchestrator.ReasonUpstreamError:
		return councilv1.ModelFailed_REASON_UPSTREAM_ERROR
	case orchestrator.ReasonInvalidOutput:
		return councilv1.ModelFailed_REASON_INVALID_OUTPUT
	case orchestrator.ReasonQuota:
		return councilv1.ModelFailed_REASON_QUOTA
	case orchestrator.ReasonAuth:
		return councilv1.ModelFailed_REASON_AUTH
	case orchestrator.ReasonCooldown:
		return councilv1.ModelFailed_REASON_COOLDOWN
	case orchestrator.ReasonCanceled:
		return councilv1.ModelFailed_REASON_CANCELED
	}
	return councilv1.ModelFailed_REASON_UNSPECIFIED
}

func toUsage(u provider.Usage) *councilv1.Usage {
	return &councilv1.Usage{InputTokens: u.InputTokens, OutputTokens: u.OutputTokens, CostUsd: u.Cost}
}

// toStageDurations lists the durations in stage order.
func toStageDurations(m map[orchestrator.Stage]time.Duration) []*councilv1.StageDuration {
	stages := make([]orchestrator.Stage, 0, len(m))
	for s := range m {
		stages = append(stages, s)
	}
	slices.Sort(stages)
	out := make([]*councilv1.StageDuration, 0, len(stages))
	for _, s := range stages {
		out = append(out, &councilv1.StageDuration{Stage: toStage(s), Duration: durationpb.New(m[s])})
	}
	return out
}

// toInt32 converts a count, saturating at the int32 bounds.
func toInt32(n int) int32 {
	return int32(max(min(n, math.MaxInt32), math.MinInt32))
}
