package orchestrator

import (
	"fmt"
	"strings"

	"github.com/councilhq/council/provider"
)

// answerMessages is the Stage 1 conversation: prior turns, then the query.
func answerMessages(p plan) []provider.Message {
	msgs := make([]provider.Message, 0, len(p.history)+1)
	msgs = append(msgs, p.history...)
	return append(msgs, provider.Message{Role: provider.RoleUser, Content: p.query})
}

// label returns the anonymous label of the i-th answer shown: "Response A", …
// Past Z it continues with two letters ("Response AA").
func label(i int) string {
	s := ""
	for i >= 0 {
		s = string(rune('A'+i%26)) + s
		i = i/26 - 1
	}
	return "Response " + s
}

// promptRoom is about the length of a prompt's fixed text, and perItemRoom
// of what each answer, label or ranked model adds around its own text:
// the room a prompt is given before it is built.
const (
	promptRoom  = 1024
	perItemRoom = 64
)

// rankingPrompt asks a reviewer to rank the answers it is shown, best first,
// in a fixed format. labels[i] is the label of answers[i].
func rankingPrompt(query string, labels []string, answers []string) string {
	var b strings.Builder
	// Room for the fixed text, the question and the answers, so that the
	// prompt is built in one allocation rather than regrown as it goes.
	n := promptRoom + len(query)
	for _, a := range answers {
		n += len(a) + perItemRoom
	}
	b.Grow(n)
	b.WriteString("You are evaluating different responses to the following question:\n\n")
	fmt.Fprintf(&b, "Question: %s\n\nHere are the responses from different models (anonymized):\n\n", query)
	for i, l := range labels {
		fmt.Fprintf(&b, "%s:\n%s\n\n", l, answers[i])
	}
	b.WriteString("Your task:\n" +
		"1. Evaluate each response for accuracy, completeness, clarity and usefulness.\n" +
		"2. Weigh the strengths and weaknesses of each.\n" +
		"3. Give a final ranking from best to worst.\n\n" +
		"IMPORTANT: end your reply with the ranking in EXACTLY this format, one line per response, " +
		"and nothing after it:\n\nFINAL RANKING:\n")
	for i, l := range labels {
		fmt.Fprintf(&b, "%d. %s\n", i+1, l)
	}
	fmt.Fprintf(&b, "\nThe order above is only an example; rank all %d responses by quality, "+
		"using each label exactly once.\n\nNow give your evaluation and ranking:", len(labels))
	return b.String()
}

// chairmanPrompt gives the chairman the question, every answer with its
// model, every ranking with the reviewer's label mapping, and the aggregate.
func chairmanPrompt(p plan, answers []answer, ballots []review, agg []AggregateEntry) string {
	var b strings.Builder
	n := promptRoom + len(p.query) + len(agg)*perItemRoom
	for _, a := range answers {
		n += len(a.model) + len(a.content) + perItemRoom
	}
	for _, r := range ballots {
		n += len(r.reviewer) + len(r.text) + (len(r.labels)+len(r.ranking))*perItemRoom
	}
	b.Grow(n)
	b.WriteString("You are the Chairman of an LLM Council. Several models answered a user's question " +
		"and then ranked each other's answers anonymously.\n\n")
	fmt.Fprintf(&b, "Original question: %s\n\n", p.query)
	b.WriteString("STAGE 1 - Individual answers:\n\n")
	for i, a := range answers {
		fmt.Fprintf(&b, "%d. Answer from %s:\n%s\n\n", i+1, a.model, a.content)
	}
	if len(ballots) > 0 {
		b.WriteString("STAGE 2 - Peer rankings (each reviewer saw the others' answers under its own labels):\n\n")
		for i, r := range ballots {
			fmt.Fprintf(&b, "%d. Review by %s. Labels it saw: %s.\n", i+1, r.reviewer, labelList(r.labels, r.labelModels))
			if len(r.ranking) > 0 {
				fmt.Fprintf(&b, "Its ranking, best first: %s.\n", strings.Join(r.ranking, ", "))
			}
			fmt.Fprintf(&b, "Its review:\n%s\n\n", r.text)
		}
		b.WriteString("Aggregate ranking (lower average position is better):\n")
		for i, e := range agg {
			if e.HasRank {
				fmt.Fprintf(&b, "%d. %s - average position %.2f from %d reviews\n", i+1, e.Model, e.AverageRank, e.Votes)
			} else {
				fmt.Fprintf(&b, "%d. %s - not ranked\n", i+1, e.Model)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("Your task: write the single best answer to the original question. Do not summarize the " +
		"answers; synthesize them:\n" +
		"1. Use the insights of every answer.\n" +
		"2. Weigh what the peer rankings say about quality.\n" +
		"3. Note where the answers agree and where they disagree.\n" +
		"4. Combine them into one well-reasoned answer.\n" +
		"5. Add context or nuance where the answers complement each other.\n\n" +
		"Final answer:")
	return b.String()
}

func labelList(labels, models []string) string {
	parts := make([]string, len(labels))
	for i := range labels {
		parts[i] = labels[i] + " = " + models[i]
	}
	return strings.Join(parts, ", ")
}
