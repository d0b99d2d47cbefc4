package sim

import (
	"hash/fnv"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// hash returns a stable 64-bit hash of the parts.
func hash(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

// pick returns the element of list that h selects.
func pick(list []string, h uint64) string {
	return list[h%uint64(len(list))]
}

// pickN returns n distinct elements of list (n <= len(list)) selected by h,
// in list order.
func pickN(list []string, n int, h uint64) []string {
	chosen := make([]bool, len(list))
	for k := 0; k < n; k++ {
		i := int((h >> (8 * k)) % uint64(len(list)))
		for chosen[i] {
			i = (i + 1) % len(list)
		}
		chosen[i] = true
	}
	out := make([]string, 0, n)
	for i, c := range chosen {
		if c {
			out = append(out, list[i])
		}
	}
	return out
}

var wordRE = regexp.MustCompile(`[\p{L}\p{N}][\p{L}\p{N}'+#-]*`)

// stopwords are words that do not name a question's subject, including
// the vocabulary of the council's own prompts.
var stopwords = toSet(`a about above after again against all also am an and any are as at be because
been before being below between both but by can could did do does doing done down during each either
else ever every few for from further get gets getting give had has have having he her here hers him
his how i if in into is it its itself just know let like make many may me might more most much must
my need no nor not now of off on once one only or other our out over own please really same shall
she should so some such than that the their them then there these they this those through to too
under until up use used using very vs want was way ways we well were what when where which while who
whom why will with without would yes you your best better worst good bad explain tell versus design
build implement choose improve learn write create handle work works start compare describe differ
difference differences pros cons approach approaches thing things something important main key
simple simply briefly detail details example examples think recommend mean means today
question questions answer answers response responses ranking rankings final evaluate evaluating
evaluation following different model models council chairman original stage`)

// toSet returns the whitespace-separated words of s as a set.
func toSet(s string) map[string]bool {
	m := make(map[string]bool)
	for _, w := range strings.Fields(s) {
		m[w] = true
	}
	return m
}

// phrase is a run of content words in a question.
type phrase struct {
	text       string
	start, end int // byte offsets in the question
}

// phrases returns up to limit distinct runs of at most three adjacent
// content words of q, in order of appearance.
func phrases(q string, limit int) []phrase {
	var out []phrase
	seen := make(map[string]bool)
	flush := func(p *phrase) {
		if p.text != "" && !seen[strings.ToLower(p.text)] && len(out) < limit {
			seen[strings.ToLower(p.text)] = true
			out = append(out, *p)
		}
		*p = phrase{}
	}
	var cur phrase
	words := 0
	for _, loc := range wordRE.FindAllStringIndex(q, -1) {
		raw := strings.TrimRight(q[loc[0]:loc[1]], "'-")
		if !content(raw, loc[0] == 0) {
			flush(&cur)
			continue
		}
		w := raw
		if loc[0] == 0 && !innerUpper(w) {
			w = strings.ToLower(w)
		}
		adjacent := cur.text != "" && strings.TrimSpace(q[cur.end:loc[0]]) == ""
		if !adjacent || words == 3 {
			flush(&cur)
			cur.start, words = loc[0], 0
		}
		if cur.text != "" {
			cur.text += " "
		}
		cur.text += w
		cur.end = loc[0] + len(raw)
		words++
	}
	flush(&cur)
	return out
}

// content reports whether w can be part of a subject: not a stopword or a
// number, and either three letters long or a capitalised short name ("Go",
// "AI") that does not start the sentence.
func content(w string, initial bool) bool {
	lower := strings.ToLower(w)
	if stopwords[lower] || strings.TrimFunc(lower, unicode.IsDigit) == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(w)
	return len(w) >= 3 || (len(w) == 2 && unicode.IsUpper(r) && !initial)
}

// innerUpper reports whether w has an upper-case letter after its first.
func innerUpper(w string) bool {
	for i, r := range w {
		if i > 0 && unicode.IsUpper(r) {
			return true
		}
	}
	return false
}

// subject holds the phrases a text is built around.
type subject struct {
	topic, first, second, third string
}

// subjectOf derives the phrases from a question. The topic spans the first
// two phrases when they are close together in one clause ("rate limiting
// for a gRPC gateway"), and is the first phrase otherwise.
func subjectOf(question string) subject {
	ph := phrases(question, 3)
	s := subject{topic: "this question", first: "the core idea", second: "the alternatives", third: "day-to-day practice"}
	if len(ph) == 0 {
		return s
	}
	s.topic, s.first = ph[0].text, ph[0].text
	if len(ph) > 1 {
		s.second = ph[1].text
		between := question[ph[0].end:ph[1].start]
		if len(strings.Fields(between)) <= 3 && !strings.ContainsAny(between, ".,;:?!") {
			s.topic = ph[0].text + between + ph[1].text
		}
	}
	if len(ph) > 2 {
		s.third = ph[2].text
	}
	return s
}

// fill replaces {topic}, {first}, {second} and {third} in tmpl.
func (s subject) fill(tmpl string) string {
	return strings.NewReplacer("{topic}", s.topic, "{first}", s.first, "{second}", s.second, "{third}", s.third).Replace(tmpl)
}
