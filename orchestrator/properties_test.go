package orchestrator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/provider"
)

// Property 4: for any valid MODEL_TIER value (in any letter case, with
// surrounding spaces) the tier's own council and chairman are found; any
// other name is not.
func TestPropertyTierConfiguration(t *testing.T) {
	builtin := Tiers()
	byName := map[string]Tier{}
	for _, tier := range builtin {
		byName[tier.Name] = tier
	}
	rapid.Check(t, func(t *rapid.T) {
		name := rapid.SampledFrom(TierNames).Draw(t, "tier")
		mixed := []rune(name)
		for i := range mixed {
			if rapid.Bool().Draw(t, "upper") {
				mixed[i] = []rune(strings.ToUpper(string(mixed[i])))[0]
			}
		}
		pad := strings.Repeat(" ", rapid.IntRange(0, 2).Draw(t, "pad"))
		tier, known := FindTier(builtin, pad+string(mixed)+pad)
		want := byName[name]
		if !known || tier.Name != name || tier.Chairman != want.Chairman || strings.Join(tier.Council, ",") != strings.Join(want.Council, ",") {
			t.Fatalf("FindTier(%q) = %+v, %v", string(mixed), tier, known)
		}

		bogus := rapid.StringMatching(`[a-z]{1,12}`).Draw(t, "bogus")
		if _, ok := byName[bogus]; ok {
			return
		}
		if tier, known = FindTier(builtin, bogus); known {
			t.Fatalf("FindTier(%q) = %s; want none", bogus, tier.Name)
		}
	})
}

// Property 5: for any set of failing council models, the consultation
// completes with the others' answers (marked degraded, the failed ones
// excluded) while at least MinAnswers answer, and otherwise ends with
// ErrQuorumNotMet and no answer.
func TestPropertyGracefulDegradation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newScripted()
		failing := map[string]bool{}
		for _, m := range testCouncil {
			if rapid.Bool().Draw(t, "fails:"+m) {
				failing[m] = true
				kind := rapid.SampledFrom([]provider.Kind{provider.KindTimeout, provider.KindRateLimited, provider.KindOverloaded, provider.KindMalformed, provider.KindQuota}).Draw(t, "kind")
				f.set(m, behavior{err: &provider.Error{Kind: kind, Message: "failed"}}, StageCollect)
			}
			f.set(m, behavior{delay: time.Duration(rapid.IntRange(0, 3).Draw(t, "delay")) * time.Millisecond}, StageReview)
		}
		evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q"})
		answered := len(testCouncil) - len(failing)
		if answered < 2 {
			if !errors.Is(err, ErrQuorumNotMet) {
				t.Fatalf("%d answered: err = %v, want ErrQuorumNotMet", answered, err)
			}
			checkStream(t, evs, false)
			if len(payloads[*ModelFailed](evs)) != len(failing) || len(payloads[*FinalAnswer](evs)) != 0 {
				t.Fatal("want one ModelFailed per failed model and no answer")
			}
			return
		}
		if err != nil {
			t.Fatalf("%d answered: %v", answered, err)
		}
		checkStream(t, evs, true)
		done := evs[len(evs)-1].Payload.(*ConsultCompleted)
		if done.Degraded != (len(failing) > 0) || len(done.Excluded) != len(failing) {
			t.Fatalf("completed = %+v with %d failing", done, len(failing))
		}
		for _, m := range done.Excluded {
			if !failing[m] {
				t.Fatalf("%s excluded but did not fail", m)
			}
		}
		if len(payloads[*ModelAnswered](evs)) != answered || len(payloads[*FinalAnswer](evs)) != 1 {
			t.Fatal("want every surviving answer and one final answer")
		}
	})
}

// Property 10: whatever order the upstream calls finish in, sequence
// numbers run 1, 2, 3 … without gaps, stages never go back, every stage
// opens with StageStarted and closes with StageCompleted, and every
// council model is accounted for once per stage it took part in.
func TestPropertyEventOrdering(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		f := newScripted()
		for _, m := range append([]string{testChair}, testCouncil...) {
			for _, s := range []Stage{StageCollect, StageReview, StageSynthesize} {
				f.set(m, behavior{delay: time.Duration(rapid.IntRange(0, 4).Draw(t, "delay")) * time.Millisecond}, s)
			}
		}
		quorum := rapid.SampledFrom([]float64{0.25, 0.5, 0.75, 1}).Draw(t, "quorum")
		c := newTestCouncil(t, f, func(c *Config) { c.ReviewQuorum = quorum })
		evs, err := consult(c, context.Background(), Request{Query: "q"})
		if err != nil {
			t.Fatal(err)
		}
		checkStream(t, evs, true)

		open := StageNone
		perStage := map[Stage]map[string]int{}
		for _, e := range evs {
			switch p := e.Payload.(type) {
			case *StageStarted:
				if open != StageNone || p.Stage != e.Stage {
					t.Fatalf("stage %v started while %v open", p.Stage, open)
				}
				open = p.Stage
			case *StageCompleted:
				if open != p.Stage {
					t.Fatalf("stage %v completed while %v open", p.Stage, open)
				}
				open = StageNone
			case *ModelAnswered:
				count(perStage, StageCollect, p.Model)
			case *ModelRanked:
				count(perStage, StageReview, p.Reviewer)
			case *ModelFailed:
				count(perStage, p.Stage, p.Model)
			}
		}
		for _, s := range []Stage{StageCollect, StageReview} {
			for _, m := range testCouncil {
				if perStage[s][m] != 1 {
					t.Fatalf("%s reported %d times in stage %v", m, perStage[s][m], s)
				}
			}
		}
	})
}

func count(m map[Stage]map[string]int, s Stage, model string) {
	if m[s] == nil {
		m[s] = map[string]int{}
	}
	m[s][model]++
}
