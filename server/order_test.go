package server

import (
	"context"
	"sync"
	"testing"
	"time"

	"pgregory.net/rapid"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// payloads builds one payload of each kind, indexed by kind.
var payloads = []func() any{
	func() any { return &orchestrator.ConsultStarted{} },
	func() any { return &orchestrator.StageStarted{} },
	func() any { return &orchestrator.ModelAnswered{Model: "m"} },
	func() any { return &orchestrator.ModelRanked{Reviewer: "m"} },
	func() any { return &orchestrator.ModelFailed{Model: "m"} },
	func() any { return &orchestrator.RankingsAggregated{} },
	func() any { return &orchestrator.SynthesisDelta{Text: "t"} },
	func() any { return &orchestrator.FinalAnswer{} },
	func() any { return &orchestrator.StageCompleted{} },
	func() any { return &orchestrator.ConsultCompleted{} },
}

// kindOf names the oneof case of a response, in the order of payloads.
func kindOf(r *councilv1.ConsultResponse) int {
	switch r.GetEvent().(type) {
	case *councilv1.ConsultResponse_ConsultStarted:
		return 0
	case *councilv1.ConsultResponse_StageStarted:
		return 1
	case *councilv1.ConsultResponse_ModelAnswered:
		return 2
	case *councilv1.ConsultResponse_ModelRanked:
		return 3
	case *councilv1.ConsultResponse_ModelFailed:
		return 4
	case *councilv1.ConsultResponse_RankingsAggregated:
		return 5
	case *councilv1.ConsultResponse_SynthesisDelta:
		return 6
	case *councilv1.ConsultResponse_FinalAnswer:
		return 7
	case *councilv1.ConsultResponse_StageCompleted:
		return 8
	case *councilv1.ConsultResponse_ConsultCompleted:
		return 9
	}
	return -1
}

// Property 10: Stream event ordering. For any sequence of events a
// consultation emits, the client receives every one, in emission order, with
// sequence numbers 1, 2, 3… without gaps, the same payload kinds, and
// stages that never go back.
func TestPropertyStreamEventOrdering(t *testing.T) {
	var (
		mu     sync.Mutex
		events []orchestrator.Event
	)
	h := start(t, ConsulterFunc(func(_ context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		mu.Lock()
		evs := events
		mu.Unlock()
		for _, ev := range evs {
			if err := emit(ev); err != nil {
				return err
			}
		}
		return nil
	}))

	rapid.Check(t, func(rt *rapid.T) {
		n := rapid.IntRange(1, 40).Draw(rt, "n")
		kinds := make([]int, n)
		evs := make([]orchestrator.Event, n)
		stage := orchestrator.StageNone
		for i := range evs {
			if rapid.Bool().Draw(rt, "advance") && stage < orchestrator.StageSynthesize {
				stage++
			}
			kinds[i] = rapid.IntRange(0, len(payloads)-1).Draw(rt, "kind")
			evs[i] = orchestrator.Event{
				Sequence:       uint64(i + 1),
				ConsultationID: "c",
				Stage:          stage,
				Time:           time.Unix(int64(i), 0),
				Payload:        payloads[kinds[i]](),
			}
		}
		mu.Lock()
		events = evs
		mu.Unlock()

		got, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
		if err != nil {
			rt.Fatalf("Consult: %v", err)
		}
		if len(got) != n {
			rt.Fatalf("got %d events, want %d", len(got), n)
		}
		prev := councilv1.Stage_STAGE_UNSPECIFIED
		for i, r := range got {
			if r.GetSequence() != uint64(i+1) {
				rt.Fatalf("event %d has sequence %d", i, r.GetSequence())
			}
			if k := kindOf(r); k != kinds[i] {
				rt.Fatalf("event %d is kind %d, want %d", i, k, kinds[i])
			}
			if r.GetStage() < prev {
				rt.Fatalf("event %d stage %v after %v", i, r.GetStage(), prev)
			}
			if want := toStage(evs[i].Stage); r.GetStage() != want {
				rt.Fatalf("event %d stage %v, want %v", i, r.GetStage(), want)
			}
			if !r.GetEmitTime().AsTime().Equal(evs[i].Time) {
				rt.Fatalf("event %d emit_time %v, want %v", i, r.GetEmitTime().AsTime(), evs[i].Time)
			}
			prev = r.GetStage()
		}
	})
}
