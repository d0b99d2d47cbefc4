package sim

import (
	"regexp"
	"strings"

	"github.com/councilhq/council/provider"
)

// Stage names, as the orchestrator sets them in [provider.MetaStage].
const (
	stageCollect    = "collect"
	stageReview     = "review"
	stageSynthesize = "synthesize"
)

// Write returns the simulated completion of req: an answer, a ranking or a
// synthesis, depending on the kind of call (see the package doc). It never
// returns an empty string and depends only on req.Model, req.Messages and
// the stage metadata.
func Write(req *provider.Request) string {
	prompt := lastUser(req.Messages)
	switch stageOf(req, prompt) {
	case stageReview:
		return writeRanking(req.Model, prompt)
	case stageSynthesize:
		return writeSynthesis(req.Model, prompt)
	}
	return writeAnswer(req.Model, prompt)
}

// lastUser returns the content of the last user message, or of the last
// message when none is from the user.
func lastUser(msgs []provider.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].Role == provider.RoleUser {
			return msgs[i].Content
		}
	}
	if len(msgs) > 0 {
		return msgs[len(msgs)-1].Content
	}
	return ""
}

// stageOf returns the call's stage from its metadata, or guesses it from
// the prompt: a chairman prompt addresses the chairman and lists the stage 1
// answers (it also quotes rankings, so it is tested first); a ranking
// prompt presents labelled answers and asks for a FINAL RANKING.
func stageOf(req *provider.Request, prompt string) string {
	switch s := req.Metadata[provider.MetaStage]; s {
	case stageCollect, stageReview, stageSynthesize:
		return s
	}
	lower := strings.ToLower(prompt)
	switch {
	case strings.Contains(lower, "chairman") && strings.Contains(lower, "stage 1"):
		return stageSynthesize
	case strings.Contains(lower, "final ranking") && labelLine.MatchString(prompt):
		return stageReview
	}
	return stageCollect
}

// questionLine matches a line that introduces the user's question inside a
// ranking or chairman prompt.
var questionLine = regexp.MustCompile(`(?im)^\s*(?:original\s+)?question:[ \t]*(.*)$`)

// questionOf returns the user's question quoted in a ranking or chairman
// prompt: the text after a "Question:" line, or else the prompt's first
// non-empty line.
func questionOf(prompt string) string {
	if m := questionLine.FindStringSubmatchIndex(prompt); m != nil {
		if q := strings.TrimSpace(prompt[m[2]:m[3]]); q != "" {
			return q
		}
		return firstLine(prompt[m[1]:])
	}
	return firstLine(prompt)
}

// firstLine returns the first non-blank line of s, trimmed.
func firstLine(s string) string {
	for line := range strings.Lines(s) {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}
