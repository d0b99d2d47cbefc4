package sim_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

const question = "How should I design rate limiting for a gRPC API gateway?"

// ask returns a single-message request to model.
func ask(model, prompt, stage string) *provider.Request {
	req := &provider.Request{Model: model, Messages: []provider.Message{{Role: provider.RoleUser, Content: prompt}}}
	if stage != "" {
		req.Metadata = map[string]string{provider.MetaStage: stage}
	}
	return req
}

// rankingPrompt builds a ranking prompt presenting answers under labels,
// in the shape the orchestrator uses.
func rankingPrompt(q string, labels []string, answers []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "You are evaluating different responses to the following question:\n\nQuestion: %s\n\nHere are the responses (anonymized):\n\n", q)
	for i, l := range labels {
		fmt.Fprintf(&b, "%s:\n%s\n\n", l, answers[i])
	}
	b.WriteString("Evaluate each response, then give your FINAL RANKING in exactly this format:\n\nFINAL RANKING:\n1. Response X\n2. Response Y\n")
	return b.String()
}

var (
	rankingItem = regexp.MustCompile(`^\s*\d+[.)]\s*\**(Response [A-Z])\b`)
	anyLabel    = regexp.MustCompile(`Response ([A-Z])\b`)
)

// fataler is the part of testing.TB and *rapid.T that finalRanking uses.
type fataler interface {
	Helper()
	Fatalf(format string, args ...any)
}

// finalRanking returns the labels listed after "FINAL RANKING:", one per line.
func finalRanking(t fataler, text string) []string {
	t.Helper()
	_, after, ok := strings.Cut(text, "FINAL RANKING:")
	if !ok {
		t.Fatalf("no FINAL RANKING in:\n%s", text)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(after), "\n") {
		m := rankingItem.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("ranking line %q has no label in:\n%s", line, text)
		}
		out = append(out, m[1])
	}
	return out
}

func TestWriteAnswerIsDeterministicAndVariesByModel(t *testing.T) {
	tier, _ := orchestrator.LookupTier("balanced")
	distinct := map[string]bool{}
	for _, m := range tier.Council {
		a := sim.Write(ask(m, question, "collect"))
		if a != sim.Write(ask(m, question, "collect")) {
			t.Fatalf("%s: two answers to the same question differ", m)
		}
		if !strings.Contains(a, "rate limiting") {
			t.Errorf("%s: answer does not mention the question's subject:\n%s", m, a)
		}
		if strings.Contains(a, "FINAL RANKING") {
			t.Errorf("%s: an answer contains a ranking:\n%s", m, a)
		}
		distinct[a] = true
	}
	if len(distinct) < len(tier.Council)-1 {
		t.Errorf("only %d distinct answers from %d models", len(distinct), len(tier.Council))
	}
	if sim.Write(ask(tier.Council[0], question, "")) == sim.Write(ask(tier.Council[0], "Why is the sky blue?", "")) {
		t.Error("different questions got the same answer")
	}
}

func TestWriteKindFromMetadataOrPrompt(t *testing.T) {
	labels := []string{"Response A", "Response B"}
	review := rankingPrompt(question, labels, []string{"one", "two"})
	chair := "You are the Chairman of an LLM Council.\n\nOriginal Question: " + question +
		"\n\nSTAGE 1 - Individual Responses:\n1. gpt-4o-mini:\nsome answer\n\nSTAGE 2 - Peer Rankings:\n1. gpt-4o-mini's Ranking:\nFINAL RANKING:\n1. Response A\n"
	tests := []struct {
		name, prompt, stage string
		ranking, synthesis  bool
	}{
		{"collect by metadata", question, "collect", false, false},
		{"collect by prompt", question, "", false, false},
		{"review by metadata", "Response A:\nfoo\n\nResponse B:\nbar\n", "review", true, false},
		{"review by prompt", review, "", true, false},
		{"synthesize by metadata", "Question: " + question, "synthesize", false, true},
		{"synthesize by prompt", chair, "", false, true},
		{"metadata wins over prompt", review, "collect", false, false},
		{"question about a chairman", "What does the chairman of a board do?", "", false, false},
		{"question about rankings", "How is the FINAL RANKING of a league decided?", "", false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := sim.Write(ask("openai/gpt-5-mini", tc.prompt, tc.stage))
			if got := strings.Contains(out, "FINAL RANKING:"); got != tc.ranking {
				t.Errorf("ranking = %v, want %v:\n%s", got, tc.ranking, out)
			}
			if got := strings.Contains(out, "**Recommended approach.**"); got != tc.synthesis {
				t.Errorf("synthesis = %v, want %v:\n%s", got, tc.synthesis, out)
			}
			if tc.ranking {
				if got := finalRanking(t, out); len(got) != 2 {
					t.Errorf("ranking %v, want the 2 labels of the prompt", got)
				}
			}
			if tc.synthesis && !strings.Contains(out, "rate limiting") {
				t.Errorf("synthesis does not mention the question's subject:\n%s", out)
			}
		})
	}
}

// TestWriteRankingListsExactlyThePromptsLabels checks, for random label sets
// and answers, that the FINAL RANKING names every label of the prompt once
// and that the text names no other label.
func TestWriteRankingListsExactlyThePromptsLabels(t *testing.T) {
	models := sim.Models()
	rapid.Check(t, func(t *rapid.T) {
		letters := rapid.SliceOfNDistinct(rapid.IntRange('A', 'Z'), 1, 8, rapid.ID[int]).Draw(t, "letters")
		labels := make([]string, len(letters))
		answers := make([]string, len(letters))
		for i, l := range letters {
			labels[i] = "Response " + string(rune(l))
			answers[i] = rapid.StringMatching(`[a-z ]{0,40}`).Draw(t, "answer")
		}
		model := rapid.SampledFrom(models).Draw(t, "model")
		out := sim.Write(ask(model, rankingPrompt(question, labels, answers), "review"))

		got := finalRanking(t, out)
		want := map[string]bool{}
		for _, l := range labels {
			want[l] = true
		}
		if len(got) != len(labels) {
			t.Fatalf("ranking %v, want a permutation of %v", got, labels)
		}
		for _, l := range got {
			if !want[l] {
				t.Fatalf("ranking %v repeats or invents a label; prompt has %v", got, labels)
			}
			delete(want, l)
		}
		for _, m := range anyLabel.FindAllStringSubmatch(out, -1) {
			if !strings.Contains(strings.Join(labels, ","), "Response "+m[1]) {
				t.Fatalf("text names Response %s, not in %v", m[1], labels)
			}
		}
	})
}

func TestWriteRankingShapesVaryAcrossReviewers(t *testing.T) {
	labels := []string{"Response A", "Response B", "Response C"}
	shapes := map[string]bool{}
	orders := map[string]bool{}
	for i := range 40 {
		q := fmt.Sprintf("%s (variant %d)", question, i)
		for _, m := range sim.Models() {
			out := sim.Write(ask(m, rankingPrompt(q, labels, []string{"first answer", "second answer", "third answer"}), "review"))
			_, list, _ := strings.Cut(out, "FINAL RANKING:\n")
			first := strings.SplitN(list, "\n", 2)[0]
			switch {
			case strings.Contains(first, "**"):
				shapes["bold"] = true
			case strings.Contains(first, " - "):
				shapes["trailing"] = true
			case strings.HasPrefix(first, "1)"):
				shapes["paren"] = true
			default:
				shapes["plain"] = true
			}
			orders[strings.Join(finalRanking(t, out), ",")] = true
		}
	}
	if len(shapes) != 4 {
		t.Errorf("ranking shapes seen: %v, want plain, bold, trailing and paren", shapes)
	}
	if len(orders) < 3 {
		t.Errorf("only %d distinct orders across reviewers", len(orders))
	}
}

func TestWriteRankingWithoutLabels(t *testing.T) {
	out := sim.Write(ask("openai/gpt-5-mini", "Rank nothing.", "review"))
	if out == "" || anyLabel.MatchString(out) {
		t.Errorf("ranking without labels = %q", out)
	}
}
