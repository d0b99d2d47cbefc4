package orchestrator

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// testLabels returns "Response A", "Response B", … for n responses.
func testLabels(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "Response " + string(rune('A'+i))
	}
	return out
}

// resp returns the labels for the given letters, in order.
func resp(letters ...string) []string {
	out := make([]string, len(letters))
	for i, l := range letters {
		out[i] = "Response " + l
	}
	return out
}

const evaluation = "Response A explains the idea clearly but misses an edge case. " +
	"Response C is the most accurate and cites its sources. " +
	"Response B is short; each response is readable, though.\n\n"

// rankingCases are replies in the shapes models write, with the ranking
// that must be read from each.
var rankingCases = []struct {
	name   string
	text   string
	labels []string
	want   []string
}{
	{"template", evaluation + "FINAL RANKING:\n1. Response C\n2. Response A\n3. Response B", testLabels(3), resp("C", "A", "B")},
	{"trailing dash text", evaluation + "FINAL RANKING:\n1. Response C - most accurate\n2. Response A - clear\n3. Response B - too short", testLabels(3), resp("C", "A", "B")},
	{"trailing colon text", "FINAL RANKING:\n1. Response B: best overall\n2. Response C: fine\n3. Response A: weakest", testLabels(3), resp("B", "C", "A")},
	{"trailing parenthesis naming another label", "FINAL RANKING:\n1. Response C (clearer than Response B)\n2. Response A (close to Response C)\n3. Response B", testLabels(3), resp("C", "A", "B")},
	{"word starting with a label letter", "FINAL RANKING:\n1. Response Cat is not a label\n2. Response B\n3. Response C\n4. Response A", testLabels(3), resp("B", "C", "A")},
	{"bold header and items", evaluation + "**FINAL RANKING:**\n1. **Response B**\n2. **Response C**\n3. **Response A**", testLabels(3), resp("B", "C", "A")},
	{"underscore and star emphasis", "__FINAL RANKING:__\n1. __Response A__\n2. _Response C_\n3. *Response B*", testLabels(3), resp("A", "C", "B")},
	{"bold numbers", "FINAL RANKING:\n**1.** Response B\n**2.** Response A\n**3.** Response C", testLabels(3), resp("B", "A", "C")},
	{"markdown heading", evaluation + "## Final Ranking\n\n1. Response B\n2. Response A\n3. Response C\n", testLabels(3), resp("B", "A", "C")},
	{"heading per rank with reasons", "## Final ranking\n### 1. Response B\nIt fixes Response A's mistake.\n### 2. Response A\nBetter than Response C.\n### 3. Response C", testLabels(3), resp("B", "A", "C")},
	{"one line with >", evaluation + "FINAL RANKING: Response B > Response A > Response C", testLabels(3), resp("B", "A", "C")},
	{"one line comma separated", evaluation + "FINAL RANKING:\nResponse C, Response B, Response A", testLabels(3), resp("C", "B", "A")},
	{"one line numbered", "**FINAL RANKING:** 1. Response B 2. Response C 3. Response A", testLabels(3), resp("B", "C", "A")},
	{"one line with arrows and then", "Final ranking: Response A → Response C, then Response B", testLabels(3), resp("A", "C", "B")},
	{"prose sentence after header", evaluation + "FINAL RANKING:\nResponse C is the strongest, followed by Response A, with Response B last.", testLabels(3), resp("C", "A", "B")},
	{"each response is, with nine labels", "Each response is fine. A response to this needs care.\nFINAL RANKING:\n1. Response B, though each response is good\n2. Response A", testLabels(9), resp("B", "A")},
	{"prose only with nine labels", "Each response is reasonable, and response is a word that repeats: response is, response to, response a.", testLabels(9), nil},
	{"duplicates", "FINAL RANKING:\n1. Response C\n2. Response C\n3. Response A\n4. Response B", testLabels(3), resp("C", "A", "B")},
	{"template placeholders", "FINAL RANKING:\n1. Response X\n2. Response B\n3. Response Z\n4. Response A\n5. Response Y", testLabels(3), resp("B", "A")},
	{"lower case", "final ranking:\n1. response c\n2. response a\n3. response b", testLabels(3), resp("C", "A", "B")},
	{"CRLF", evaluation + "FINAL RANKING:\r\n1. Response B\r\n2. Response C\r\n3. Response A\r\n", testLabels(3), resp("B", "C", "A")},
	{"code fence", "```\nFINAL RANKING:\n1. Response A\n2. Response C\n3. Response B\n```", testLabels(3), resp("A", "C", "B")},
	{"extra blank lines", "FINAL RANKING:\n\n\n1. Response B\n\n2. Response C\n\n\n3. Response A\n\n", testLabels(3), resp("B", "C", "A")},
	{"paren numbering", "FINAL RANKING:\n1) Response B\n2) Response A\n3) Response C", testLabels(3), resp("B", "A", "C")},
	{"colon numbering", "FINAL RANKING:\n1: Response C\n2: Response B\n3: Response A", testLabels(3), resp("C", "B", "A")},
	{"hash numbering", "FINAL RANKING\n#1 Response C\n#2 Response A\n#3 Response B", testLabels(3), resp("C", "A", "B")},
	{"spaced numbering", "FINAL RANKING:\n1 . Response A\n2 . Response B\n3 . Response C", testLabels(3), resp("A", "B", "C")},
	{"rank n", "FINAL RANKING:\nRank 1: Response B\nRank 2: Response C\nRank 3: Response A", testLabels(3), resp("B", "C", "A")},
	{"ordinal places", "FINAL RANKING:\n1st place: Response A\n2nd place: Response C\n3rd place: Response B", testLabels(3), resp("A", "C", "B")},
	{"bullets", "FINAL RANKING:\n- Response A\n- Response C\n- Response B", testLabels(3), resp("A", "C", "B")},
	{"sub-bullets under numbered items", "FINAL RANKING:\n1. Response C\n   - clearer than Response B\n2. Response A\n   - misses a step\n3. Response B", testLabels(3), resp("C", "A", "B")},
	{"is-best sentences", "FINAL RANKING:\nResponse C is best.\nResponse A is second.\nResponse B is last.", testLabels(3), resp("C", "A", "B")},
	{"bare letters", "FINAL RANKING:\n1. C\n2. A\n3. B", testLabels(3), resp("C", "A", "B")},
	{"bare letters with reasons", "FINAL RANKING:\n1. **B** (clearest)\n2. C - accurate\n3. A: too short", testLabels(3), resp("B", "C", "A")},
	{"bare letters on one line", "FINAL RANKING: C > A > B", testLabels(3), resp("C", "A", "B")},
	{"article A is not a label", "FINAL RANKING:\n1. Response B\n2. A solid answer: Response C\n3. Response A", testLabels(3), resp("B", "C", "A")},
	{"header with parenthesis", "FINAL RANKING (best to worst):\n1. Response A\n2. Response B\n3. Response C", testLabels(3), resp("A", "B", "C")},
	{"markdown table", "FINAL RANKING:\n| Rank | Response |\n|---|---|\n| 1 | Response C |\n| 2 | Response B |\n| 3 | Response A |", testLabels(3), resp("C", "B", "A")},
	{"blockquote", "> FINAL RANKING:\n> 1. Response B\n> 2. Response A", testLabels(2), resp("B", "A")},
	{"header with prose after the list", "FINAL RANKING:\n1. Response C\n2. Response A\n\nResponse B was weakest, though Response A came close to Response C.", testLabels(3), resp("C", "A")},
	{"last header wins", "FINAL RANKING:\n1. Response A\n2. Response B\n3. Response C\n\nOn reflection:\n**Final Ranking:**\n1. Response C\n2. Response B\n3. Response A", testLabels(3), resp("C", "B", "A")},
	{"template repeated after the ranking", "FINAL RANKING:\n1. Response B\n2. Response C\n3. Response A\n\nFINAL RANKING:\n1. Response X\n2. Response Y\n3. Response Z", testLabels(3), resp("B", "C", "A")},
	{"header words before the colon", "The final ranking, from best to worst: Response B, Response C, Response A.", testLabels(3), resp("B", "C", "A")},
	{"later line starting with final ranking is prose", "FINAL RANKING:\n1. Response B\n2. Response A\n3. Response C\n\nFinal ranking explained: Response C lacks depth.", testLabels(3), resp("B", "A", "C")},
	{"partial ranking", "FINAL RANKING:\n1. Response B", testLabels(3), resp("B")},
	{"labels not shown are ignored", "FINAL RANKING:\n1. Response C\n2. Response B\n3. Response A", testLabels(2), resp("B", "A")},
	{"word ending in response", "FINAL RANKING:\n1. Response B\n2. Nonresponse C\n3. Response A", testLabels(3), resp("B", "A")},
	{"possessive", "FINAL RANKING:\n1. Response C's answer\n2. Response A's answer", testLabels(3), resp("C", "A")},
	{"no header numbered list", evaluation + "My ranking, best first:\n1. Response C\n2. Response B\n3. Response A", testLabels(3), resp("C", "B", "A")},
	{"no header evaluation list then ranking list", "1. Response A: clear\n2. Response B: short\n3. Response C: accurate\n\nRanking:\n1. Response C\n2. Response A\n3. Response B\n\nTakeaways:\n1. Cite sources\n2. Keep it short", testLabels(3), resp("C", "A", "B")},
	{"no header numbered lines naming two labels are skipped", "1. Response B beats Response A\n2. Response C\n3. Response A", testLabels(3), resp("C", "A")},
	{"no header prose only", "Response A is strong. Response C is weak. Overall Response B is best.", testLabels(3), nil},
	{"header without ranking falls back to numbered lines", "1. Response B\n2. Response A\n\nFINAL RANKING: as listed above.", testLabels(2), resp("B", "A")},
	{"header and nothing readable", "FINAL RANKING:\nI cannot decide between them.", testLabels(3), nil},
	{"no labels", "FINAL RANKING:\n1. Response A", nil, nil},
	{"empty text", "", testLabels(3), nil},
	{"two-letter labels", "FINAL RANKING:\n1. Response AB\n2. Response A\n3. Response AA", append(testLabels(26), "Response AA", "Response AB"), resp("AB", "A", "AA")},
}

func TestParseRanking(t *testing.T) {
	t.Parallel()
	for _, tc := range rankingCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := ParseRanking(tc.text, tc.labels)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseRanking(%q) mismatch (-want +got):\n%s", tc.text, diff)
			}
		})
	}
}

// checkRankingShape fails unless got holds only labels, each at most once.
func checkRankingShape(t interface{ Fatalf(string, ...any) }, got, labels []string) {
	seen := map[string]bool{}
	for _, l := range got {
		if !slices.Contains(labels, l) {
			t.Fatalf("ranking %q holds %q, which is not a label in %q", got, l, labels)
		}
		if seen[l] {
			t.Fatalf("ranking %q holds %q twice", got, l)
		}
		seen[l] = true
	}
}

// ranked is a ranking to render, with everything the renderer may draw.
type ranked struct {
	labels  []string // all labels shown
	ranking []string // labels ranked, best first
}

// letter returns the letter token of a label.
func letter(label string) string { return strings.TrimPrefix(label, "Response ") }

// casedLabel writes label the way a model might: "Response C",
// "response C", "RESPONSE C", "**Response C**" or "__Response C__".
func casedLabel(t *rapid.T, label string) string {
	l := letter(label)
	return rapid.SampledFrom([]string{
		"Response " + l, "response " + l, "RESPONSE " + l, "**Response " + l + "**", "__Response " + l + "__",
	}).Draw(t, "cased")
}

// otherLabel returns a label other than label, or "" when there is none.
func otherLabel(t *rapid.T, r ranked, label string) string {
	others := slices.DeleteFunc(slices.Clone(r.labels), func(l string) bool { return l == label })
	if len(others) == 0 {
		return ""
	}
	return rapid.SampledFrom(others).Draw(t, "other")
}

// itemReason returns text that may follow a ranked label on its line.
func itemReason(t *rapid.T, r ranked, label string) string {
	reasons := []string{"", " - most accurate", ": clear and complete", " (clearest)", " — concise", " is best", "'s answer"}
	if o := otherLabel(t, r, label); o != "" {
		reasons = append(reasons, " (better than "+o+")", " - it fixes "+o+"'s mistake")
	}
	return rapid.SampledFrom(reasons).Draw(t, "reason")
}

// rankingFormats render a ranking section the way real models write them.
var rankingFormats = map[string]func(t *rapid.T, r ranked) []string{
	"numbered": func(t *rapid.T, r ranked) []string {
		header := rapid.SampledFrom([]string{"FINAL RANKING:", "**FINAL RANKING:**", "## Final Ranking", "final ranking:", "### FINAL RANKING", "__Final Ranking:__", "FINAL RANKING (best to worst):"}).Draw(t, "header")
		marker := rapid.SampledFrom([]string{"%d. ", "%d) ", "%d: ", "#%d ", "%d . ", "**%d.** ", "Rank %d: ", "(%d) ", "   %d. "}).Draw(t, "marker")
		lines := []string{header}
		for i, l := range r.ranking {
			lines = append(lines, fmt.Sprintf(marker, i+1)+casedLabel(t, l)+itemReason(t, r, l))
			if rapid.Bool().Draw(t, "subBullet") {
				lines = append(lines, "   - "+rapid.SampledFrom([]string{"thorough", "compared with "}).Draw(t, "sub")+casedLabel(t, rapid.SampledFrom(r.labels).Draw(t, "subLabel")))
			}
		}
		return lines
	},
	"bullets": func(t *rapid.T, r ranked) []string {
		bullet := rapid.SampledFrom([]string{"- ", "* ", "+ ", "• "}).Draw(t, "bullet")
		lines := []string{"FINAL RANKING:"}
		for _, l := range r.ranking {
			lines = append(lines, bullet+casedLabel(t, l)+itemReason(t, r, l))
		}
		return lines
	},
	"fenced": func(t *rapid.T, r ranked) []string {
		lines := []string{"```text", "FINAL RANKING:"}
		for i, l := range r.ranking {
			lines = append(lines, fmt.Sprintf("%d. %s", i+1, l))
		}
		return append(lines, "```")
	},
	"one line": func(t *rapid.T, r ranked) []string {
		sep := rapid.SampledFrom([]string{" > ", ", ", " → ", ", then ", "; ", " >> "}).Draw(t, "sep")
		parts := make([]string, len(r.ranking))
		for i, l := range r.ranking {
			parts[i] = casedLabel(t, l)
		}
		if rapid.Bool().Draw(t, "sameLine") {
			return []string{"**FINAL RANKING:** " + strings.Join(parts, sep)}
		}
		return []string{"FINAL RANKING:", strings.Join(parts, sep)}
	},
	"one line numbered": func(t *rapid.T, r ranked) []string {
		parts := make([]string, len(r.ranking))
		for i, l := range r.ranking {
			parts[i] = fmt.Sprintf("%d. %s", i+1, casedLabel(t, l))
		}
		return []string{"FINAL RANKING: " + strings.Join(parts, " ")}
	},
	"sentences": func(t *rapid.T, r ranked) []string {
		lines := []string{"Final Ranking:"}
		for i, l := range r.ranking {
			lines = append(lines, fmt.Sprintf("%s is ranked number %d.", casedLabel(t, l), i+1))
		}
		return lines
	},
	"bare letters": func(t *rapid.T, r ranked) []string {
		lines := []string{"FINAL RANKING:"}
		for i, l := range r.ranking {
			lines = append(lines, fmt.Sprintf("%d. %s%s", i+1, letter(l), rapid.SampledFrom([]string{"", " - accurate", " (clearest)", ": fine"}).Draw(t, "bareReason")))
		}
		return lines
	},
	"bare one line": func(t *rapid.T, r ranked) []string {
		parts := make([]string, len(r.ranking))
		for i, l := range r.ranking {
			parts[i] = letter(l)
		}
		return []string{"FINAL RANKING: " + strings.Join(parts, rapid.SampledFrom([]string{" > ", ", "}).Draw(t, "bareSep"))}
	},
	"table": func(t *rapid.T, r ranked) []string {
		lines := []string{"FINAL RANKING:", "| Rank | Response |", "|---|---|"}
		for i, l := range r.ranking {
			lines = append(lines, fmt.Sprintf("| %d | %s |", i+1, casedLabel(t, l)))
		}
		return lines
	},
}

// prose returns lines a model might write before its ranking: discussion
// that names responses in any order, numbered evaluations, placeholders.
func prose(t *rapid.T, labels []string) []string {
	n := rapid.IntRange(0, 6).Draw(t, "proseLines")
	lines := make([]string, 0, n)
	for i := range n {
		l := rapid.SampledFrom(labels).Draw(t, "proseLabel")
		lines = append(lines, rapid.SampledFrom([]string{
			l + " is thorough but long.",
			"Each response is readable; a response to this must be precise.",
			fmt.Sprintf("%d. %s: good accuracy", i+1, l),
			"I compared " + l + " with the others.",
			"My final ranking follows.",
			"Replace Response X, Response Y and Response Z with letters.",
			"",
		}).Draw(t, "prose"))
	}
	return lines
}

// epilogue returns lines that name no response, written after a ranking.
func epilogue(t *rapid.T) []string {
	return rapid.SliceOfN(rapid.SampledFrom([]string{
		"I hope this helps.", "", "Overall, all answers were useful.", "1. Keep it short", "Thanks!",
	}), 0, 3).Draw(t, "epilogue")
}

func TestParseRankingProperties(t *testing.T) {
	t.Parallel()
	formats := make([]string, 0, len(rankingFormats))
	for name := range rankingFormats {
		formats = append(formats, name)
	}
	slices.Sort(formats)

	t.Run("round trip", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			labels := testLabels(rapid.IntRange(1, 8).Draw(t, "n"))
			perm := rapid.Permutation(labels).Draw(t, "perm")
			r := ranked{labels: labels, ranking: perm[:rapid.IntRange(1, len(perm)).Draw(t, "k")]}
			format := rapid.SampledFrom(formats).Draw(t, "format")
			lines := slices.Concat(prose(t, labels), rankingFormats[format](t, r), epilogue(t))
			sep := rapid.SampledFrom([]string{"\n", "\r\n", "\n\n"}).Draw(t, "newline")
			text := strings.Join(lines, sep)
			if got := ParseRanking(text, labels); !slices.Equal(got, r.ranking) {
				t.Fatalf("format %s: got %q, want %q from:\n%s", format, got, r.ranking, text)
			}
		})
	})

	t.Run("shape", func(t *testing.T) {
		t.Parallel()
		fragments := []string{
			"Response ", "response ", "A", "B", "C", "D", "X", "Cat", "is", " ", "\n", "\r\n", "1. ", "2) ", "#3 ",
			"- ", "FINAL RANKING:", "final ranking", "**", "__", "`", " > ", ", ", "then ", "(", ")", ":", "Rank ",
		}
		rapid.Check(t, func(t *rapid.T) {
			labels := testLabels(rapid.IntRange(0, 5).Draw(t, "n"))
			parts := rapid.SliceOf(rapid.OneOf(rapid.SampledFrom(fragments), rapid.String())).Draw(t, "parts")
			checkRankingShape(t, ParseRanking(strings.Join(parts, ""), labels), labels)
		})
	})
}

func TestAggregate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ballots []Ballot
		models  []string
		want    []AggregateEntry
	}{
		{
			name: "full rankings",
			ballots: []Ballot{
				{Reviewer: "a", Candidates: []string{"b", "c"}, Ranking: []string{"c", "b"}},
				{Reviewer: "b", Candidates: []string{"a", "c"}, Ranking: []string{"c", "a"}},
				{Reviewer: "c", Candidates: []string{"a", "b"}, Ranking: []string{"a", "b"}},
			},
			models: []string{"a", "b", "c"},
			want: []AggregateEntry{
				{Model: "c", AverageRank: 1, HasRank: true, Votes: 2, FirstPlaces: 2},
				{Model: "a", AverageRank: 1.5, HasRank: true, Votes: 2, FirstPlaces: 1},
				{Model: "b", AverageRank: 2, HasRank: true, Votes: 2},
			},
		},
		{
			name: "unranked candidates share the remaining positions",
			ballots: []Ballot{
				{Reviewer: "r", Candidates: []string{"a", "b", "c", "d"}, Ranking: []string{"c"}},
			},
			models: []string{"a", "b", "c", "d"},
			want: []AggregateEntry{
				{Model: "c", AverageRank: 1, HasRank: true, Votes: 1, FirstPlaces: 1},
				{Model: "a", AverageRank: 3, HasRank: true},
				{Model: "b", AverageRank: 3, HasRank: true},
				{Model: "d", AverageRank: 3, HasRank: true},
			},
		},
		{
			name: "empty, unknown and duplicate entries",
			ballots: []Ballot{
				{Reviewer: "r1", Candidates: []string{"a", "b", "c"}},
				{Reviewer: "r2", Candidates: []string{"a", "b", "c"}, Ranking: []string{"z"}},
				{Reviewer: "r3", Candidates: []string{"a", "b", "c"}, Ranking: []string{"z", "b", "b", "y", "a"}},
			},
			models: []string{"a", "b", "c"},
			want: []AggregateEntry{
				{Model: "b", AverageRank: 1, HasRank: true, Votes: 1, FirstPlaces: 1},
				{Model: "a", AverageRank: 2, HasRank: true, Votes: 1},
				{Model: "c", AverageRank: 3, HasRank: true},
			},
		},
		{
			name: "models nobody saw come last without a rank",
			ballots: []Ballot{
				{Reviewer: "a", Candidates: []string{"b"}, Ranking: []string{"b"}},
			},
			models: []string{"z", "a", "b", "a"},
			want: []AggregateEntry{
				{Model: "b", AverageRank: 1, HasRank: true, Votes: 1, FirstPlaces: 1},
				{Model: "a"},
				{Model: "z"},
			},
		},
		{
			name: "ties broken by votes",
			ballots: []Ballot{
				{Reviewer: "r1", Candidates: []string{"z", "w", "model-b"}, Ranking: []string{"z", "w", "model-b"}},
				{Reviewer: "r2", Candidates: []string{"z", "w", "model-a"}, Ranking: []string{"z", "w"}},
			},
			models: []string{"model-a", "model-b", "w", "z"},
			want: []AggregateEntry{
				{Model: "z", AverageRank: 1, HasRank: true, Votes: 2, FirstPlaces: 2},
				{Model: "w", AverageRank: 2, HasRank: true, Votes: 2},
				{Model: "model-b", AverageRank: 3, HasRank: true, Votes: 1},
				{Model: "model-a", AverageRank: 3, HasRank: true},
			},
		},
		{
			name: "ties broken by first places, then by id",
			ballots: []Ballot{
				{Reviewer: "r1", Candidates: []string{"p", "q"}, Ranking: []string{"p", "q"}},
				{Reviewer: "r2", Candidates: []string{"p", "q", "r"}, Ranking: []string{"r", "q", "p"}},
				{Reviewer: "r3", Candidates: []string{"x", "y"}, Ranking: []string{"y", "x"}},
				{Reviewer: "r4", Candidates: []string{"x", "y"}, Ranking: []string{"x", "y"}},
			},
			models: []string{"q", "p", "r", "y", "x"},
			want: []AggregateEntry{
				{Model: "r", AverageRank: 1, HasRank: true, Votes: 1, FirstPlaces: 1},
				{Model: "x", AverageRank: 1.5, HasRank: true, Votes: 2, FirstPlaces: 1},
				{Model: "y", AverageRank: 1.5, HasRank: true, Votes: 2, FirstPlaces: 1},
				{Model: "p", AverageRank: 2, HasRank: true, Votes: 2, FirstPlaces: 1},
				{Model: "q", AverageRank: 2, HasRank: true, Votes: 2},
			},
		},
		{
			name:   "no ballots",
			models: []string{"b", "a"},
			want:   []AggregateEntry{{Model: "a"}, {Model: "b"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tc.want, Aggregate(tc.ballots, tc.models)); diff != "" {
				t.Errorf("Aggregate mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// ballotsGen draws ballots over models: each reviewer sees a subset of the
// models (now and then an unknown one) and ranks some of them, now and then
// with repeats and entries that are not candidates.
func ballotsGen(t *rapid.T, models []string) []Ballot {
	pool := append(slices.Clone(models), "stranger")
	n := rapid.IntRange(0, 8).Draw(t, "ballots")
	ballots := make([]Ballot, n)
	for i := range ballots {
		candidates := rapid.SliceOfNDistinct(rapid.SampledFrom(pool), 0, len(pool), rapid.ID[string]).Draw(t, "candidates")
		var ranking []string
		if len(candidates) > 0 {
			perm := rapid.Permutation(candidates).Draw(t, "perm")
			ranking = perm[:rapid.IntRange(0, len(perm)).Draw(t, "k")]
			if rapid.Bool().Draw(t, "junk") {
				ranking = append(ranking, "junk", perm[0])
			}
		}
		ballots[i] = Ballot{Reviewer: fmt.Sprint("r", i), Candidates: candidates, Ranking: ranking}
	}
	return ballots
}

// modelsGen draws distinct model ids.
func modelsGen(t *rapid.T) []string {
	return rapid.SliceOfNDistinct(rapid.StringMatching(`[a-z]{1,3}/[a-z0-9]{1,4}`), 1, 8, rapid.ID[string]).Draw(t, "models")
}

// TestAggregateProperties checks the aggregation invariants.
func TestAggregateProperties(t *testing.T) {
	t.Parallel()

	// aggregation invariants: every model exactly once, ranks finite and in
	// range, counts bounded, strictly ordered, independent of ballot order.
	t.Run("invariants", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			models := modelsGen(t)
			ballots := ballotsGen(t, models)
			got := Aggregate(ballots, models)

			maxCandidates := 0
			for _, b := range ballots {
				maxCandidates = max(maxCandidates, len(b.Candidates))
			}
			if len(got) != len(models) {
				t.Fatalf("got %d entries for %d models", len(got), len(models))
			}
			for i, e := range got {
				if !slices.Contains(models, e.Model) || slices.IndexFunc(got, func(o AggregateEntry) bool { return o.Model == e.Model }) != i {
					t.Fatalf("entry %d: model %q is unknown or repeated", i, e.Model)
				}
				if math.IsNaN(e.AverageRank) || math.IsInf(e.AverageRank, 0) {
					t.Fatalf("entry %+v: average rank is not finite", e)
				}
				if e.HasRank && (e.AverageRank < 1 || e.AverageRank > float64(maxCandidates)) {
					t.Fatalf("entry %+v: average rank outside [1, %d]", e, maxCandidates)
				}
				if !e.HasRank && (e.AverageRank != 0 || e.Votes != 0 || e.FirstPlaces != 0) {
					t.Fatalf("entry %+v: no rank but non-zero fields", e)
				}
				if e.Votes > len(ballots) || e.FirstPlaces > e.Votes {
					t.Fatalf("entry %+v: counts out of range for %d ballots", e, len(ballots))
				}
				if i > 0 && compareEntries(got[i-1], e) >= 0 {
					t.Fatalf("entries %+v and %+v are out of order", got[i-1], e)
				}
			}
			shuffled := rapid.Permutation(ballots).Draw(t, "shuffled")
			if diff := cmp.Diff(got, Aggregate(shuffled, models)); diff != "" {
				t.Fatalf("result depends on ballot order (-first +shuffled):\n%s", diff)
			}
		})
	})

	// aggregation invariants: a model ranked first by every ballot that saw
	// it, and seen by at least one, is first unless tied.
	t.Run("unanimous winner", func(t *testing.T) {
		t.Parallel()
		rapid.Check(t, func(t *rapid.T) {
			models := modelsGen(t)
			winner := rapid.SampledFrom(models).Draw(t, "winner")
			ballots := ballotsGen(t, models)
			ballots = append(ballots, Ballot{Reviewer: "extra", Candidates: []string{winner}})
			for i, b := range ballots {
				if slices.Contains(b.Candidates, winner) {
					rest := slices.DeleteFunc(slices.Clone(b.Ranking), func(m string) bool { return m == winner })
					ballots[i].Ranking = append([]string{winner}, rest...)
				}
			}
			got := Aggregate(ballots, models)
			at := slices.IndexFunc(got, func(e AggregateEntry) bool { return e.Model == winner })
			if got[at].AverageRank != 1 || !got[at].HasRank {
				t.Fatalf("winner %q has entry %+v, want average rank 1", winner, got[at])
			}
			for _, e := range got[:at] {
				if e.AverageRank != 1 || !e.HasRank {
					t.Fatalf("%+v is ahead of the unanimous winner %+v without a tie", e, got[at])
				}
			}
		})
	})
}
