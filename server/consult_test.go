package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
)

// script is a fake Consulter that records its request and emits its events.
type script struct {
	mu     sync.Mutex
	got    []orchestrator.Request
	events []orchestrator.Event
	err    error
}

func (s *script) Consult(_ context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
	s.mu.Lock()
	s.got = append(s.got, req)
	s.mu.Unlock()
	for _, ev := range s.events {
		if err := emit(ev); err != nil {
			return err
		}
	}
	return s.err
}

func (s *script) requests() []orchestrator.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]orchestrator.Request(nil), s.got...)
}

// numbered gives events sequence numbers 1, 2, 3… and fixed ids and times.
func numbered(t0 time.Time, evs ...orchestrator.Event) []orchestrator.Event {
	for i := range evs {
		evs[i].Sequence = uint64(i + 1)
		evs[i].ConsultationID = "c-1"
		evs[i].Time = t0.Add(time.Duration(i) * time.Millisecond)
	}
	return evs
}

func TestConsultConvertsRequestAndEvents(t *testing.T) {
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	usage := provider.Usage{InputTokens: 10, OutputTokens: 20, Cost: 0.5}
	evs := numbered(t0,
		orchestrator.Event{Payload: &orchestrator.ConsultStarted{RequestID: "r-1", Tier: "speed", Council: []string{"a", "b"}, Chairman: "c"}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.StageStarted{Stage: orchestrator.StageCollect, Models: []string{"a", "b"}}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.AnswerDelta{Model: "a", Text: "4"}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.ModelAnswered{Model: "a", Content: "42", Latency: 1200 * time.Millisecond, Usage: usage, Attempts: 2}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.StragglersCut{Models: []string{"d"}, Waited: time.Second}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.ModelFailed{Stage: orchestrator.StageCollect, Model: "b", Reason: orchestrator.ReasonRateLimited, Message: "rate limited", Attempts: 4, Latency: time.Second}},
		orchestrator.Event{Stage: orchestrator.StageCollect, Payload: &orchestrator.StageCompleted{Stage: orchestrator.StageCollect, Duration: 2 * time.Second, Successes: 1, Failures: 1}},
		orchestrator.Event{Stage: orchestrator.StageReview, Payload: &orchestrator.ModelRanked{Reviewer: "a", RawText: "FINAL RANKING:\n1. Response A", Ranking: []string{"b"}, Labels: map[string]string{"Response A": "b"}, Latency: time.Second, Usage: usage, Attempts: 1, Late: true}},
		orchestrator.Event{Stage: orchestrator.StageReview, Payload: &orchestrator.RankingsAggregated{Reviewers: 1, Entries: []orchestrator.AggregateEntry{
			{Model: "b", AverageRank: 1.5, HasRank: true, Votes: 2, FirstPlaces: 1},
			{Model: "a"},
		}}},
		orchestrator.Event{Stage: orchestrator.StageSynthesize, Payload: &orchestrator.SynthesisDelta{Model: "c", Text: "The answer"}},
		orchestrator.Event{Stage: orchestrator.StageSynthesize, Payload: &orchestrator.FinalAnswer{Model: "c", Content: "The answer is 42.", Latency: 3 * time.Second, Usage: usage, Fallback: true}},
		orchestrator.Event{Stage: orchestrator.StageSynthesize, Payload: &orchestrator.ConsultCompleted{
			Duration:       6 * time.Second,
			StageDurations: map[orchestrator.Stage]time.Duration{orchestrator.StageSynthesize: 3 * time.Second, orchestrator.StageCollect: 2 * time.Second},
			Degraded:       true,
			Excluded:       []string{"b"},
			Usage:          usage,
			Reasons:        []orchestrator.DegradedReason{orchestrator.DegradedModelFailed, orchestrator.DegradedStragglerCut},
		}},
	)
	fake := &script{events: evs}
	h := start(t, fake)

	got, err := h.consult(context.Background(), &councilv1.ConsultRequest{
		Query:         "What is 6 × 7?",
		Tier:          councilv1.Tier_TIER_SPEED,
		CouncilModels: []string{"a", "b"},
		ChairmanModel: "c",
		History: []*councilv1.Turn{
			{Role: councilv1.Role_ROLE_USER, Content: "hi"},
			{Role: councilv1.Role_ROLE_ASSISTANT, Content: "hello"},
		},
		RequestId:        "r-1",
		DeltaFlushWindow: durationpb.New(5 * time.Millisecond),
		StreamAnswers:    true,
		StragglerCutoff:  &councilv1.StragglerCutoff{Floor: durationpb.New(time.Second), Multiple: 1.5},
	})
	if err != nil {
		t.Fatalf("Consult: %v", err)
	}
	window := 5 * time.Millisecond

	wantReq := []orchestrator.Request{{
		Query:    "What is 6 × 7?",
		Tier:     "speed",
		Council:  []string{"a", "b"},
		Chairman: "c",
		History: []provider.Message{
			{Role: provider.RoleUser, Content: "hi"},
			{Role: provider.RoleAssistant, Content: "hello"},
		},
		RequestID:        "r-1",
		DeltaFlushWindow: &window,
		StreamAnswers:    true,
		StragglerCutoff:  &orchestrator.StragglerCutoff{Floor: time.Second, Multiple: 1.5},
		Caller:           "bufconn", // the peer address of an in-memory connection
	}}
	if diff := cmp.Diff(wantReq, fake.requests()); diff != "" {
		t.Errorf("domain request mismatch (-want +got):\n%s", diff)
	}

	pbUsage := &councilv1.Usage{InputTokens: 10, OutputTokens: 20, CostUsd: 0.5}
	want := []*councilv1.ConsultResponse{
		{Stage: councilv1.Stage_STAGE_UNSPECIFIED, Event: &councilv1.ConsultResponse_ConsultStarted{ConsultStarted: &councilv1.ConsultStarted{
			RequestId: "r-1", Tier: councilv1.Tier_TIER_SPEED, CouncilModels: []string{"a", "b"}, ChairmanModel: "c",
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_StageStarted{StageStarted: &councilv1.StageStarted{
			Stage: councilv1.Stage_STAGE_COLLECT, Models: []string{"a", "b"},
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_AnswerDelta{AnswerDelta: &councilv1.AnswerDelta{
			Model: "a", Text: "4",
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_ModelAnswered{ModelAnswered: &councilv1.ModelAnswered{
			Model: "a", Content: "42", Latency: durationpb.New(1200 * time.Millisecond), Usage: pbUsage, Attempts: 2,
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_StragglersCut{StragglersCut: &councilv1.StragglersCut{
			Models: []string{"d"}, Waited: durationpb.New(time.Second),
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_ModelFailed{ModelFailed: &councilv1.ModelFailed{
			Stage: councilv1.Stage_STAGE_COLLECT, Model: "b", Reason: councilv1.ModelFailed_REASON_RATE_LIMITED,
			Message: "rate limited", Attempts: 4, Latency: durationpb.New(time.Second),
		}}},
		{Stage: councilv1.Stage_STAGE_COLLECT, Event: &councilv1.ConsultResponse_StageCompleted{StageCompleted: &councilv1.StageCompleted{
			Stage: councilv1.Stage_STAGE_COLLECT, Duration: durationpb.New(2 * time.Second), Successes: 1, Failures: 1,
		}}},
		{Stage: councilv1.Stage_STAGE_REVIEW, Event: &councilv1.ConsultResponse_ModelRanked{ModelRanked: &councilv1.ModelRanked{
			ReviewerModel: "a", RawText: "FINAL RANKING:\n1. Response A", Ranking: []string{"b"},
			Labels: map[string]string{"Response A": "b"}, Latency: durationpb.New(time.Second), Usage: pbUsage, Attempts: 1, Late: true,
		}}},
		{Stage: councilv1.Stage_STAGE_REVIEW, Event: &councilv1.ConsultResponse_RankingsAggregated{RankingsAggregated: &councilv1.RankingsAggregated{
			Reviewers: 1,
			Entries: []*councilv1.AggregateEntry{
				{Model: "b", AverageRank: proto.Float64(1.5), Votes: 2, FirstPlaces: 1},
				{Model: "a"},
			},
		}}},
		{Stage: councilv1.Stage_STAGE_SYNTHESIZE, Event: &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{
			Model: "c", Text: "The answer",
		}}},
		{Stage: councilv1.Stage_STAGE_SYNTHESIZE, Event: &councilv1.ConsultResponse_FinalAnswer{FinalAnswer: &councilv1.FinalAnswer{
			Model: "c", Content: "The answer is 42.", Latency: durationpb.New(3 * time.Second), Usage: pbUsage, Fallback: true,
		}}},
		{Stage: councilv1.Stage_STAGE_SYNTHESIZE, Event: &councilv1.ConsultResponse_ConsultCompleted{ConsultCompleted: &councilv1.ConsultCompleted{
			Duration: durationpb.New(6 * time.Second),
			StageDurations: []*councilv1.StageDuration{
				{Stage: councilv1.Stage_STAGE_COLLECT, Duration: durationpb.New(2 * time.Second)},
				{Stage: councilv1.Stage_STAGE_SYNTHESIZE, Duration: durationpb.New(3 * time.Second)},
			},
			Degraded: true, ExcludedModels: []string{"b"}, Usage: pbUsage,
			DegradedReasons: []councilv1.DegradedReason{councilv1.DegradedReason_DEGRADED_REASON_MODEL_FAILED, councilv1.DegradedReason_DEGRADED_REASON_STRAGGLER_CUT},
		}}},
	}
	for i, w := range want {
		w.Sequence = uint64(i + 1)
		w.ConsultationId = "c-1"
		w.EmitTime = timestamppb.New(t0.Add(time.Duration(i) * time.Millisecond))
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("events mismatch (-want +got):\n%s", diff)
	}
}
