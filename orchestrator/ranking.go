package orchestrator

import (
	"cmp"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseRanking reads the ranking a reviewer wrote and returns the labels it
// ranked, best first. labels are the labels the reviewer was shown, each of
// the form "Response X" where X is a letter token ("A", "B", … "AA").
//
// The result holds only labels from labels, each at most once (the first
// placement wins); it is nil when no ranking can be read. Outside a FINAL
// RANKING section, the order in which prose mentions responses means nothing.
//
// When the text has a "FINAL RANKING" header (any case, any markdown
// decoration, on its own line or followed by the ranking on the same line),
// only the text after the last such header is read, line by line:
//   - if some lines are numbered items ("1.", "1)", "1:", "#1", "Rank 1:",
//     "1st place:"), only those are read; else if some are bullets ("- ",
//     "* "), only those; else every line;
//   - a line yields the label it names first, then each further label that
//     is separated from the previous one only by punctuation, numbering or
//     connectives such as "then" ("Response B > Response A, then Response C");
//   - when the section holds a single line naming labels and it is neither
//     numbered nor bulleted, every label it names is taken, in order;
//   - labels are matched case-insensitively as "Response X" with X a whole
//     word ("Response Cat" and "response is" name nothing); a bare label
//     letter counts at the start of an item ("1. C") or in a line made only
//     of letters and separators ("C > A > B").
//
// Placeholders that are not labels ("Response X" for a template's X) are
// skipped and take no position. When the last header's section names no
// label the previous header's section, up to the next header, is tried.
//
// Without a usable header, numbered lines ("1. Response C") that name
// exactly one label are read instead: the text's numbered lines are split
// into lists where the numbering restarts, the last of the lists with the
// most such lines is taken and its labels are ordered by their numbers.
func ParseRanking(text string, labels []string) []string {
	ls := newLabelSet(labels)
	if len(ls.byToken) == 0 {
		return nil
	}
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(text, "\r\n", "\n"), "\r", "\n"), "\n")
	end := len(lines)
	for i := len(lines) - 1; i >= 0; i-- {
		rest, ok := rankingHeader(lines[i])
		if !ok {
			continue
		}
		section := append([]string{rest}, lines[i+1:end]...)
		if got := ls.parseSection(section); len(got) > 0 {
			return got
		}
		end = i
	}
	return ls.parseNumbered(lines)
}

var (
	// labelRE splits a label into its prefix and its letter token.
	labelRE = regexp.MustCompile(`^(?i:response)\s+([\p{L}\p{N}]+)$`)
	// headerRE matches the start of a ranking header line.
	headerRE = regexp.MustCompile("(?i)^[\\s#>*_`~-]*(?:(?:here\\s+is|here's|this\\s+is)\\s+)?(?:(?:my|the|our)\\s+)?final\\s+rankings?\\b")
	// headerColonRE matches a few words between the header and its colon.
	headerColonRE = regexp.MustCompile(`^([^:]{0,40}):`)
	// mentionRE matches "Response X"; the token is checked against the labels.
	mentionRE = regexp.MustCompile(`(?i)response[\s_*"'-]*([\p{L}\p{N}]+)`)
	// wordRE matches one word.
	wordRE = regexp.MustCompile(`[\p{L}\p{N}]+`)
	// numberedRE matches a numbered item's marker.
	numberedRE = regexp.MustCompile("^[\\s>]*(?:#+\\s+)?(?:[-*+•]\\s+)?[*_`\\s]*" +
		`(?:(?:(?i:rank(?:ed)?|place|no\.?)\s*#?\s*|#\s*)(\d{1,3})(?i:st|nd|rd|th)?` +
		`|\(\s*(\d{1,3})\s*\)` +
		`|(\d{1,3})(?i:st|nd|rd|th)?(?:\s*(?i:place))?[*_\s]*[.):\]\-–—])`)
	// bulletRE matches a bullet item's marker.
	bulletRE = regexp.MustCompile(`^[\s>]*[-*+•]\s+`)
)

// connectives are the words that may sit between the labels of a one-line
// ranking without ending it.
var connectives = map[string]bool{
	"then": true, "and": true, "followed": true, "by": true, "next": true,
	"finally": true, "rank": true, "ranked": true, "place": true, "to": true,
	"best": true, "worst": true, "first": true, "second": true, "third": true,
	"last": true, "response": true, "responses": true,
}

// headerWords may sit between "final ranking" and its colon, as in
// "Final ranking of the responses, from best to worst:".
var headerWords = map[string]bool{
	"is": true, "as": true, "follows": true, "from": true, "best": true, "to": true,
	"worst": true, "of": true, "the": true, "responses": true, "in": true, "order": true,
}

// ordinalSuffixes end ordinal numbers such as "2nd".
var ordinalSuffixes = map[string]bool{"st": true, "nd": true, "rd": true, "th": true}

// rankingHeader reports whether line is a FINAL RANKING header and returns
// the text that follows it on the same line.
func rankingHeader(line string) (string, bool) {
	loc := headerRE.FindStringIndex(line)
	if loc == nil {
		return "", false
	}
	const decoration = "*_`~# \t"
	rest := strings.TrimLeft(line[loc[1]:], decoration)
	if strings.HasPrefix(rest, "(") {
		if i := strings.IndexByte(rest, ')'); i >= 0 {
			rest = strings.TrimLeft(rest[i+1:], decoration)
		}
	}
	switch {
	case rest == "":
	case strings.HasPrefix(rest, ":"), strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "-"):
		rest = rest[1:]
	case strings.HasPrefix(rest, "–"), strings.HasPrefix(rest, "—"):
		rest = rest[len("—"):]
	default:
		m := headerColonRE.FindStringSubmatchIndex(rest)
		if m == nil {
			return "", false
		}
		for _, w := range wordRE.FindAllString(rest[m[2]:m[3]], -1) {
			if !headerWords[strings.ToLower(w)] {
				return "", false
			}
		}
		rest = rest[m[1]:]
	}
	return strings.TrimLeft(rest, decoration), true
}

// labelSet indexes the labels a reviewer was shown by their letter token.
type labelSet struct {
	byToken map[string]string // exact token ("C") to label
	byUpper map[string]string // upper-cased token to label
}

// newLabelSet indexes labels; labels not of the form "Response X" are left out.
func newLabelSet(labels []string) labelSet {
	ls := labelSet{byToken: map[string]string{}, byUpper: map[string]string{}}
	for _, l := range labels {
		m := labelRE.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		ls.byToken[m[1]] = l
		ls.byUpper[strings.ToUpper(m[1])] = l
	}
	return ls
}

// mention is a label named in a line at line[start:end].
type mention struct {
	start, end int
	label      string
}

// lineKind says whether a line is a list item.
type lineKind int

const (
	plainLine lineKind = iota
	bulletLine
	numberedLine
)

// classify returns the kind of line and, for items, where the item's
// content starts.
func classify(line string) (lineKind, int) {
	if m := numberedRE.FindStringIndex(line); m != nil {
		return numberedLine, m[1]
	}
	if m := bulletRE.FindStringIndex(line); m != nil {
		return bulletLine, m[1]
	}
	return plainLine, 0
}

// itemNumber returns the number of a numbered item.
func itemNumber(line string) (int, bool) {
	m := numberedRE.FindStringSubmatch(line)
	if m == nil {
		return 0, false
	}
	n := 0
	for _, d := range m[1] + m[2] + m[3] {
		n = n*10 + int(d-'0')
	}
	return n, true
}

// parseSection reads the lines of a FINAL RANKING section.
func (ls labelSet) parseSection(lines []string) []string {
	type entry struct {
		line     string
		kind     lineKind
		mentions []mention
	}
	var entries []entry
	var has [numberedLine + 1]bool
	for _, line := range lines {
		kind, off := classify(line)
		ms := ls.mentions(line, kind, off)
		if len(ms) == 0 {
			continue
		}
		entries = append(entries, entry{line, kind, ms})
		has[kind] = true
	}
	want := plainLine
	if has[numberedLine] {
		want = numberedLine
	} else if has[bulletLine] {
		want = bulletLine
	}
	var r labelRanking
	for _, e := range entries {
		if e.kind != want {
			continue
		}
		if want == plainLine && len(entries) == 1 {
			for _, m := range e.mentions {
				r.add(m.label)
			}
			continue
		}
		r.add(e.mentions[0].label)
		for i := 1; i < len(e.mentions); i++ {
			if !onlyConnectives(e.line[e.mentions[i-1].end:e.mentions[i].start]) {
				break
			}
			r.add(e.mentions[i].label)
		}
	}
	return r.labels
}

// parseNumbered reads numbered lines anywhere in the text.
func (ls labelSet) parseNumbered(lines []string) []string {
	type item struct {
		num   int
		label string
	}
	var best, cur []item
	prev := 0
	for _, line := range lines {
		num, ok := itemNumber(line)
		if !ok {
			continue
		}
		if num <= prev {
			if len(cur) > 0 && len(cur) >= len(best) {
				best = cur
			}
			cur = nil
		}
		prev = num
		label, one := "", true
		for _, m := range ls.responseMentions(line) {
			if label != "" && m.label != label {
				one = false
				break
			}
			label = m.label
		}
		if label != "" && one {
			cur = append(cur, item{num, label})
		}
	}
	if len(cur) > 0 && len(cur) >= len(best) {
		best = cur
	}
	slices.SortStableFunc(best, func(a, b item) int { return cmp.Compare(a.num, b.num) })
	var r labelRanking
	for _, it := range best {
		r.add(it.label)
	}
	return r.labels
}

// mentions returns the labels a line names, in order: "Response X"
// mentions, a bare letter opening an item, and the letters of a line made
// only of letters and separators.
func (ls labelSet) mentions(line string, kind lineKind, off int) []mention {
	ms := ls.responseMentions(line)
	if kind != plainLine {
		if m, ok := ls.bareItem(line, off); ok {
			ms = append(ms, m)
		}
	}
	ms = append(ms, ls.bareLine(line)...)
	slices.SortStableFunc(ms, func(a, b mention) int { return cmp.Compare(a.start, b.start) })
	out := ms[:0]
	end := 0
	for _, m := range ms {
		if m.start < end {
			continue
		}
		out = append(out, m)
		end = m.end
	}
	return out
}

// responseMentions returns the "Response X" mentions of labels in line.
func (ls labelSet) responseMentions(line string) []mention {
	var out []mention
	for _, m := range mentionRE.FindAllStringSubmatchIndex(line, -1) {
		if r, _ := utf8.DecodeLastRuneInString(line[:m[0]]); m[0] > 0 && isWordRune(r) {
			continue
		}
		if label, ok := ls.byUpper[strings.ToUpper(line[m[2]:m[3]])]; ok {
			out = append(out, mention{m[0], m[1], label})
		}
	}
	return out
}

// bareItem returns the bare label letter that opens an item's content at
// line[off:], as in "1. C" or "- **B** (clearest)". A one-letter English
// word ("A", "I", "O") followed by more words is read as prose.
func (ls labelSet) bareItem(line string, off int) (mention, bool) {
	i := off + len(line[off:]) - len(strings.TrimLeft(line[off:], " \t*_`\"'.):-–—"))
	j := i
	for j < len(line) {
		r, size := utf8.DecodeRuneInString(line[j:])
		if !isWordRune(r) {
			break
		}
		j += size
	}
	tok := line[i:j]
	label, ok := ls.byToken[tok]
	if !ok {
		return mention{}, false
	}
	rest := strings.TrimLeft(line[j:], "*_`\"'")
	if after := strings.TrimLeft(rest, " \t"); after != rest && after != "" {
		if r, _ := utf8.DecodeRuneInString(after); isWordRune(r) && strings.Contains("AIO", tok) {
			return mention{}, false
		}
	}
	return mention{i, j, label}, true
}

// bareLine returns the label letters of a line whose words are all label
// letters, numbers or connectives ("C > A > B", "1. B 2. A"); otherwise nil.
func (ls labelSet) bareLine(line string) []mention {
	var out []mention
	for _, w := range wordRE.FindAllStringIndex(line, -1) {
		tok := line[w[0]:w[1]]
		if label, ok := ls.byToken[tok]; ok {
			out = append(out, mention{w[0], w[1], label})
			continue
		}
		if !isConnective(tok) {
			return nil
		}
	}
	return out
}

// onlyConnectives reports whether gap, the text between two labels, holds
// only punctuation, numbers and connectives.
func onlyConnectives(gap string) bool {
	for _, w := range wordRE.FindAllString(gap, -1) {
		if !isConnective(w) {
			return false
		}
	}
	return true
}

// isConnective reports whether word may separate the labels of a one-line
// ranking: a number, an ordinal ("2nd") or a word such as "then".
func isConnective(word string) bool {
	suffix := strings.TrimLeftFunc(word, unicode.IsDigit)
	if suffix == "" {
		return true
	}
	if suffix != word {
		return ordinalSuffixes[strings.ToLower(suffix)]
	}
	return connectives[strings.ToLower(word)]
}

// isWordRune reports whether r is a letter or a digit.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// labelRanking collects labels in order, keeping the first placement of each.
type labelRanking struct {
	labels []string
}

// add appends label unless it is already placed.
func (r *labelRanking) add(label string) {
	if !slices.Contains(r.labels, label) {
		r.labels = append(r.labels, label)
	}
}
