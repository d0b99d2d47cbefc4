package sim

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// labelLine matches the header line that presents each anonymous answer.
var labelLine = regexp.MustCompile(`(?m)^\s*Response ([A-Z])\b`)

// labeled is one anonymous answer of a ranking prompt.
type labeled struct {
	label string // "Response A"
	text  string // the answer under the header
	score uint64
}

// labelsOf returns the answers presented in a ranking prompt, each label
// once, in order of appearance.
func labelsOf(prompt string) []labeled {
	locs := labelLine.FindAllStringSubmatchIndex(prompt, -1)
	var out []labeled
	seen := make(map[string]bool)
	for i, m := range locs {
		label := "Response " + prompt[m[2]:m[3]]
		end := len(prompt)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		if seen[label] {
			continue
		}
		seen[label] = true
		out = append(out, labeled{label: label, text: prompt[m[1]:end]})
	}
	return out
}

// Phrases of a ranking, by where the reviewer placed the answer: best,
// in between, worst.
var (
	rankingIntros = []string{
		"Here is my evaluation of each response, judged on accuracy, completeness, clarity and usefulness.",
		"I compared the responses on accuracy, completeness, clarity and usefulness.",
		"Evaluation of the responses:",
	}
	verdicts = [3][]string{
		{
			"%s is the strongest: accurate, well organised, and it answers the question directly.",
			"%s stands out for its clear structure and concrete, practical advice.",
		},
		{
			"%s is solid and mostly accurate, but it leaves out some of the nuance the question calls for.",
			"%s covers the essentials clearly, though a few points are asserted rather than explained.",
		},
		{
			"%s is the weakest: vaguer than the others, and it misses important trade-offs.",
			"%s is readable but too general to be very useful in practice.",
		},
	}
	notes = [3][]string{{"clearest", "most complete"}, {"solid", "well argued"}, {"too general", "least specific"}}
)

// tier returns 0 for the best of n places, 2 for the worst and 1 between.
func tier(place, n int) int {
	switch place {
	case 0:
		return 0
	case n - 1:
		return 2
	}
	return 1
}

// writeRanking writes model's evaluation of the answers in prompt, ending
// with a FINAL RANKING of exactly the labels the prompt contains. One
// reviewer in seven bolds the labels, one adds a trailing note and one
// numbers with "1)", as real models do.
func writeRanking(model, prompt string) string {
	answers := labelsOf(prompt)
	if len(answers) == 0 {
		return "No responses were provided to evaluate.\n\nFINAL RANKING:\n"
	}
	for i := range answers {
		// Reviewers broadly agree on quality (the answer's own hash) with
		// some personal taste (the reviewer's hash).
		answers[i].score = hash(answers[i].text)%100 + hash(model, answers[i].label)%60
	}
	ranked := append([]labeled(nil), answers...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].score > ranked[j].score })
	place := make(map[string]int, len(ranked))
	for i, a := range ranked {
		place[a.label] = i
	}

	h := hash(model, questionOf(prompt))
	var b strings.Builder
	b.WriteString(pick(rankingIntros, h))
	b.WriteString("\n\n")
	for _, a := range answers {
		fmt.Fprintf(&b, pick(verdicts[tier(place[a.label], len(ranked))], hash(model, a.label)), a.label)
		b.WriteString("\n\n")
	}
	b.WriteString("FINAL RANKING:\n")
	shape := h >> 8 % 7
	for i, a := range ranked {
		switch shape {
		case 0:
			fmt.Fprintf(&b, "%d. **%s**\n", i+1, a.label)
		case 1:
			fmt.Fprintf(&b, "%d. %s - %s\n", i+1, a.label, pick(notes[tier(i, len(ranked))], h))
		case 2:
			fmt.Fprintf(&b, "%d) %s\n", i+1, a.label)
		default:
			fmt.Fprintf(&b, "%d. %s\n", i+1, a.label)
		}
	}
	return b.String()
}
