package main

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

func sec(f float64) *durationpb.Duration {
	return durationpb.New(time.Duration(f * float64(time.Second)))
}

func TestTextPrinter(t *testing.T) {
	collect, review, synth := councilv1.Stage_STAGE_COLLECT, councilv1.Stage_STAGE_REVIEW, councilv1.Stage_STAGE_SYNTHESIZE
	u := &councilv1.Usage{InputTokens: 100, OutputTokens: 20, CostUsd: 0.0012}
	events := []*councilv1.ConsultResponse{
		{ConsultationId: "c1", Event: &councilv1.ConsultResponse_ConsultStarted{ConsultStarted: &councilv1.ConsultStarted{
			Tier: councilv1.Tier_TIER_SPEED, CouncilModels: []string{"a", "b", "c"}, ChairmanModel: "z", RequestId: "r9"}}},
		{Stage: collect, Event: &councilv1.ConsultResponse_StageStarted{StageStarted: &councilv1.StageStarted{Stage: collect, Models: []string{"a", "b", "c"}}}},
		{Stage: collect, Event: &councilv1.ConsultResponse_ModelAnswered{ModelAnswered: &councilv1.ModelAnswered{Model: "a", Latency: sec(1.23), Usage: u, Attempts: 1}}},
		{Stage: collect, Event: &councilv1.ConsultResponse_ModelAnswered{ModelAnswered: &councilv1.ModelAnswered{Model: "b", Latency: sec(0.4567), Usage: &councilv1.Usage{OutputTokens: 7}, Attempts: 3}}},
		{Stage: collect, Event: &councilv1.ConsultResponse_ModelFailed{ModelFailed: &councilv1.ModelFailed{Stage: collect, Model: "c",
			Reason: councilv1.ModelFailed_REASON_TIMEOUT, Message: "model call timed out after 10s", Attempts: 2, Latency: sec(10)}}},
		{Stage: collect, Event: &councilv1.ConsultResponse_StageCompleted{StageCompleted: &councilv1.StageCompleted{Stage: collect, Duration: sec(10), Successes: 2, Failures: 1}}},
		{Stage: review, Event: &councilv1.ConsultResponse_ModelRanked{ModelRanked: &councilv1.ModelRanked{ReviewerModel: "a", Ranking: []string{"b"}, Latency: sec(0.9)}}},
		{Stage: review, Event: &councilv1.ConsultResponse_RankingsAggregated{RankingsAggregated: &councilv1.RankingsAggregated{Reviewers: 1, Entries: []*councilv1.AggregateEntry{
			{Model: "b", AverageRank: proto.Float64(1), Votes: 1, FirstPlaces: 1}, {Model: "a"}}}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{Model: "z", Text: "The sky "}}},
		// A late ranking arrives mid-text: it is held back until the text ends.
		{Stage: synth, Event: &councilv1.ConsultResponse_ModelRanked{ModelRanked: &councilv1.ModelRanked{ReviewerModel: "b", Latency: sec(2), Late: true}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{Model: "z", Text: "is"}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_ModelFailed{ModelFailed: &councilv1.ModelFailed{Stage: synth, Model: "z",
			Reason: councilv1.ModelFailed_REASON_UPSTREAM_ERROR, Message: "stream broke", Attempts: 1, Latency: sec(1.5)}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{Model: "b", Text: "Blue."}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_FinalAnswer{FinalAnswer: &councilv1.FinalAnswer{Model: "b", Content: "Blue.", Latency: sec(0.5), Usage: u, Fallback: true}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_StageCompleted{StageCompleted: &councilv1.StageCompleted{Stage: synth, Duration: sec(2), Successes: 1, Failures: 1}}},
		{Stage: synth, Event: &councilv1.ConsultResponse_ConsultCompleted{ConsultCompleted: &councilv1.ConsultCompleted{
			Duration: sec(13), Degraded: true, ExcludedModels: []string{"c"}, Usage: &councilv1.Usage{InputTokens: 1000, OutputTokens: 234, CostUsd: 0.0125}}}},
	}
	var out strings.Builder
	p := &textPrinter{w: &out}
	for _, ev := range events {
		if err := p.print(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.end(); err != nil {
		t.Fatal(err)
	}
	want := `consultation c1: tier speed, council a, b, c, chairman z, request r9
[collect] started: a, b, c
[collect] a answered in 1.2s (120 tokens, $0.0012)
[collect] b answered in 457ms (7 tokens, 3 attempts)
[collect] c failed after 10s (timeout, 2 attempts): model call timed out after 10s
[collect] done in 10s: 2 succeeded, 1 failed
[review] a ranked in 900ms: b
[review] aggregate of 1 ranking: 1. b (average rank 1.00, 1 vote, 1 first); 2. a (unranked, 0 votes, 0 first)
[synthesize] z is writing the final answer:

The sky is

[review] b ranked in 2s: no ranking parsed (late: not in the aggregate)
[synthesize] z failed after 1.5s (upstream_error): stream broke
[synthesize] b is writing the final answer:

Blue.

[synthesize] final answer by b in 500ms (120 tokens, $0.0012), written by the fallback chairman
[synthesize] done in 2s: 1 succeeded, 1 failed
completed in 13s (1234 tokens, $0.0125); degraded, without c
`
	if got := out.String(); got != want {
		t.Errorf("output mismatch\n got:\n%s\nwant:\n%s", got, want)
	}
}

func TestTextPrinterShowsAnswerNotStreamed(t *testing.T) {
	var out strings.Builder
	p := &textPrinter{w: &out}
	_ = p.print(&councilv1.ConsultResponse{Event: &councilv1.ConsultResponse_FinalAnswer{FinalAnswer: &councilv1.FinalAnswer{
		Model: "z", Content: "Rayleigh scattering.\n", Latency: sec(1)}}})
	_ = p.end()
	want := "[synthesize] final answer by z in 1s (0 tokens)\n\nRayleigh scattering.\n\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestTextPrinterEndsInterruptedText(t *testing.T) {
	var out strings.Builder
	p := &textPrinter{w: &out}
	_ = p.print(&councilv1.ConsultResponse{Event: &councilv1.ConsultResponse_SynthesisDelta{SynthesisDelta: &councilv1.SynthesisDelta{Model: "z", Text: "Half"}}})
	_ = p.print(&councilv1.ConsultResponse{Event: &councilv1.ConsultResponse_StageCompleted{StageCompleted: &councilv1.StageCompleted{
		Stage: councilv1.Stage_STAGE_REVIEW, Duration: sec(1)}}})
	_ = p.end()
	want := "[synthesize] z is writing the final answer:\n\nHalf\n\n[review] done in 1s: 0 succeeded, 0 failed\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestTextPrinterBudget(t *testing.T) {
	review := councilv1.Stage_STAGE_REVIEW
	events := []*councilv1.ConsultResponse{
		{Event: &councilv1.ConsultResponse_BudgetApplied{BudgetApplied: &councilv1.BudgetApplied{
			Stage: review, MaxCostUsd: 0.01, SpentUsd: 0.004, EstimatedCostUsd: 0.0055, DroppedReviewers: []string{"a", "b"},
			ChairmanModel: "c", PlannedChairmanModel: "z"}}},
		{Event: &councilv1.ConsultResponse_ConsultCompleted{ConsultCompleted: &councilv1.ConsultCompleted{
			Duration: sec(3), Degraded: true, DegradedReasons: []councilv1.DegradedReason{councilv1.DegradedReason_DEGRADED_REASON_BUDGET},
			Usage: &councilv1.Usage{CostUsd: 0.0102}, CostCapOvershootUsd: 0.0002}}},
	}
	var out strings.Builder
	p := &textPrinter{w: &out}
	for _, ev := range events {
		if err := p.print(ev); err != nil {
			t.Fatal(err)
		}
	}
	want := `[review] cost cap $0.0100: spent $0.0040, planned up to $0.0055; dropped reviewers a, b; chairman c instead of z
completed in 3s (0 tokens, $0.0102); degraded (budget); $0.0002 over the cost cap
`
	if got := out.String(); got != want {
		t.Errorf("output mismatch\n got:\n%s\nwant:\n%s", got, want)
	}
}
