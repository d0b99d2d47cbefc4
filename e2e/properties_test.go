package e2e

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"pgregory.net/rapid"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/server"
)

// TestDegradationProperty checks, through the whole stack, Property 5:
// Graceful degradation on model failure, for any set of failing council
// models and any mix of the faults that fail fast: with at least two of
// the four council models answering, the consultation completes with the
// remaining answers, marked degraded and naming exactly the failed models;
// with fewer it ends with QUORUM_NOT_MET. Every stream also satisfies
// Property 10: Stream event ordering (sequence numbers 1, 2, 3… and
// stages that never go back), which checkStream checks.
func TestDegradationProperty(t *testing.T) {
	fast := slices.DeleteFunc(slices.Clone(faults), func(f fault) bool {
		return f.reason == councilv1.ModelFailed_REASON_TIMEOUT
	})
	s := newStack(t, stackConfig{})
	rapid.Check(t, func(rt *rapid.T) {
		failing := map[string]fault{}
		for _, m := range council {
			if rapid.Bool().Draw(rt, "fails "+m) {
				f := rapid.SampledFrom(fast).Draw(rt, "fault of "+m)
				failing[m] = f
				s.upstream.SetBehavior(m, f.behavior)
			} else {
				s.upstream.SetBehavior(m, openroutertest.Behavior{})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		defer cancel()
		evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "How do tides work?"})
		o := checkStream(rt, evs, err)

		collectFailed := o.failed[councilv1.Stage_STAGE_COLLECT]
		for m, f := range failing {
			if collectFailed[m] != f.reason {
				rt.Errorf("%s: reason %v, want %v", m, collectFailed[m], f.reason)
			}
		}
		if len(collectFailed) != len(failing) {
			rt.Errorf("Stage 1 failures %v, want those of %d models", collectFailed, len(failing))
		}
		if len(council)-len(failing) < 2 {
			if status.Code(err) != codes.Unavailable || reasonOf(err) != server.ReasonQuorumNotMet {
				rt.Fatalf("%d answers: status %v, want QUORUM_NOT_MET", len(council)-len(failing), err)
			}
			return
		}
		if err != nil {
			rt.Fatalf("%d answers: status %v, want OK", len(council)-len(failing), err)
		}
		excluded := slices.Sorted(slices.Values(o.completed.GetExcludedModels()))
		want := make([]string, 0, len(failing))
		for m := range failing {
			want = append(want, m)
		}
		slices.Sort(want)
		if !slices.Equal(excluded, want) || o.completed.GetDegraded() != (len(failing) > 0) {
			rt.Errorf("excluded %v, degraded %v; want excluded %v", excluded, o.completed.GetDegraded(), want)
		}
	})
	s.waitUpstreamIdle(t)
}
