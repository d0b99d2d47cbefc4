package orchestrator

import (
	"sort"
	"strings"
	"time"
)

// Tier is a named preset of council models and chairman with the latency
// and cost it is expected to deliver.
type Tier struct {
	// Name is the tier's name: "speed", "balanced" or "cost".
	Name string
	// Council lists the council models, in order.
	Council []string
	// Chairman is the model that writes the final answer.
	Chairman string
	// ExpectedLatency is the end-to-end latency the tier promises.
	ExpectedLatency time.Duration
	// CostPerQuery is the expected cost of one consultation in US dollars.
	CostPerQuery float64
}

// DefaultTierName is the tier used when none, or an unknown one, is chosen.
const DefaultTierName = "balanced"

// tiers is the design's MODEL_TIERS table.
var tiers = map[string]Tier{
	"speed": {
		Name: "speed",
		Council: []string{
			"openai/gpt-4o-mini",
			"anthropic/claude-3-5-haiku",
			"google/gemini-1.5-flash",
			"meta-llama/llama-3.3-70b-instruct",
		},
		Chairman:        "anthropic/claude-3-5-sonnet",
		ExpectedLatency: 12 * time.Second,
		CostPerQuery:    0.020,
	},
	"balanced": {
		Name: "balanced",
		Council: []string{
			"openai/gpt-4o-mini",
			"anthropic/claude-3-haiku",
			"google/gemini-flash-1.5",
			"mistralai/mistral-small",
		},
		Chairman:        "anthropic/claude-3-5-haiku",
		ExpectedLatency: 18 * time.Second,
		CostPerQuery:    0.012,
	},
	"cost": {
		Name: "cost",
		Council: []string{
			"openai/gpt-3.5-turbo",
			"anthropic/claude-3-haiku",
			"mistralai/mistral-7b-instruct",
			"meta-llama/llama-3.1-8b-instruct",
		},
		Chairman:        "anthropic/claude-3-haiku",
		ExpectedLatency: 27 * time.Second,
		CostPerQuery:    0.008,
	},
}

// Tiers returns every tier, ordered by expected latency (fastest first).
// The result is a copy the caller may modify.
func Tiers() []Tier {
	out := make([]Tier, 0, len(tiers))
	for _, t := range tiers {
		out = append(out, t.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpectedLatency < out[j].ExpectedLatency })
	return out
}

// LookupTier returns the tier with the given name (case-insensitive,
// surrounding spaces ignored) and whether it exists.
func LookupTier(name string) (Tier, bool) {
	t, ok := tiers[strings.ToLower(strings.TrimSpace(name))]
	return t.clone(), ok
}

// ResolveTier returns the named tier, or the default tier when the name is
// empty or unknown; known is false only for a non-empty unknown name, so the
// caller can warn about it.
func ResolveTier(name string) (t Tier, known bool) {
	if strings.TrimSpace(name) == "" {
		t, _ = LookupTier(DefaultTierName)
		return t, true
	}
	if t, ok := LookupTier(name); ok {
		return t, true
	}
	t, _ = LookupTier(DefaultTierName)
	return t, false
}

// clone returns a deep copy of t.
func (t Tier) clone() Tier {
	t.Council = append([]string(nil), t.Council...)
	return t
}
