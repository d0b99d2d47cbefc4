package orchestrator

import (
	"cmp"
	"slices"
	"strings"
)

// Ballot is one reviewer's ranking, in model ids.
type Ballot struct {
	// Reviewer is the model that wrote the ranking.
	Reviewer string
	// Candidates are the models whose answers the reviewer was shown.
	Candidates []string
	// Ranking is the models the reviewer ranked, best first; a subset of
	// Candidates.
	Ranking []string
}

// Aggregate combines ballots into one ranking of models, best first. The
// result holds every model of models exactly once.
//
// A ballot places its explicitly ranked candidates at positions 1..k; the
// candidates it saw but did not rank share the average of the remaining
// positions k+1..m, where m is the number of candidates, so a partial
// ranking neither rewards nor ignores a model. Ballots that rank none of
// their candidates are ignored, as are ranking entries that are not
// candidates and repeated entries after the first.
//
// A model's AverageRank is the mean of its positions over the ballots that
// saw it; HasRank is false and AverageRank 0 when none did. Entries are
// sorted by HasRank (true first), then lower AverageRank, more Votes, more
// FirstPlaces and model id, so the order depends on nothing else; in
// particular not on the order of ballots.
func Aggregate(ballots []Ballot, models []string) []AggregateEntry {
	type tally struct {
		seen, sum2, votes, firsts int // sum2 is twice the sum of positions
	}
	tallies := map[string]*tally{}
	get := func(model string) *tally {
		t := tallies[model]
		if t == nil {
			t = &tally{}
			tallies[model] = t
		}
		return t
	}
	for _, b := range ballots {
		candidates := uniqueModels(b.Candidates, nil)
		ranked := uniqueModels(b.Ranking, func(m string) bool { return slices.Contains(candidates, m) })
		if len(ranked) == 0 {
			continue
		}
		k, m := len(ranked), len(candidates)
		for i, model := range ranked {
			t := get(model)
			t.seen++
			t.sum2 += 2 * (i + 1)
			t.votes++
			if i == 0 {
				t.firsts++
			}
		}
		for _, model := range candidates {
			if !slices.Contains(ranked, model) {
				t := get(model)
				t.seen++
				t.sum2 += k + 1 + m
			}
		}
	}
	entries := make([]AggregateEntry, 0, len(models))
	for _, model := range uniqueModels(models, nil) {
		e := AggregateEntry{Model: model}
		if t := tallies[model]; t != nil {
			e.HasRank = true
			e.AverageRank = float64(t.sum2) / float64(2*t.seen)
			e.Votes = t.votes
			e.FirstPlaces = t.firsts
		}
		entries = append(entries, e)
	}
	slices.SortFunc(entries, compareEntries)
	return entries
}

// compareEntries orders aggregate entries best first.
func compareEntries(a, b AggregateEntry) int {
	if a.HasRank != b.HasRank {
		if a.HasRank {
			return -1
		}
		return 1
	}
	return cmp.Or(
		cmp.Compare(a.AverageRank, b.AverageRank),
		cmp.Compare(b.Votes, a.Votes),
		cmp.Compare(b.FirstPlaces, a.FirstPlaces),
		strings.Compare(a.Model, b.Model),
	)
}

// uniqueModels returns the items of s that keep accepts (all when keep is nil),
// each once, in order of first appearance.
func uniqueModels(s []string, keep func(string) bool) []string {
	out := make([]string, 0, len(s))
	for _, x := range s {
		if (keep == nil || keep(x)) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
