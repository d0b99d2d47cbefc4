package sim

import (
	"sort"
	"time"

	"github.com/councilhq/council/provider"
)

// Profile is how one simulated model behaves.
type Profile struct {
	// Latency is the time from the call to the full answer. A value below
	// TimeToFirstToken is raised to it.
	Latency time.Duration
	// TimeToFirstToken is the time from the call to the first streamed
	// delta, and the time a failing call takes to fail.
	TimeToFirstToken time.Duration
	// Jitter widens both times by a random factor in [1-Jitter, 1+Jitter].
	// Zero means exact times; values are clamped to [0, 1].
	Jitter float64
	// FailRate is the probability, in [0, 1], that a call fails with a
	// retryable error (rate limited, overloaded or upstream).
	FailRate float64
	// Fail, when not [provider.KindUnknown], makes every call fail with
	// this kind.
	Fail provider.Kind
	// Hang makes every call wait until its context ends.
	Hang bool
}

// Config configures a [Provider]. The zero value answers every model
// instantly.
type Config struct {
	// Profiles holds the behaviour of each known model, by model id.
	Profiles map[string]Profile
	// Default is the behaviour of models missing from Profiles.
	Default Profile
	// Seed makes jitter and random failures repeatable: the same seed and
	// the same sequence of calls per model give the same outcomes.
	Seed int64
	// Scale multiplies every latency; tests use a small one to run fast.
	// Zero or less means 1.
	Scale float64
}

// DefaultConfig returns a realistic configuration: [DefaultProfiles], a
// default profile of 1.5 s for other models, and no failures.
func DefaultConfig() Config {
	return Config{
		Profiles: DefaultProfiles(),
		Default:  Profile{Latency: 1500 * time.Millisecond, TimeToFirstToken: 400 * time.Millisecond, Jitter: 0.15},
		Scale:    1,
	}
}

// model is the built-in knowledge about one model id.
type model struct {
	latency, ttft time.Duration
	// inPrice and outPrice are US dollars per million tokens.
	inPrice, outPrice float64
}

// models covers every model of the built-in council tiers. Latencies put a
// consultation at a few seconds; prices follow OpenRouter's list prices.
var models = map[string]model{
	"openai/gpt-5-mini":                        {1600 * time.Millisecond, 450 * time.Millisecond, 0.25, 2.00},
	"openai/gpt-5-nano":                        {1300 * time.Millisecond, 400 * time.Millisecond, 0.05, 0.40},
	"openai/gpt-4.1-nano":                      {700 * time.Millisecond, 200 * time.Millisecond, 0.10, 0.40},
	"anthropic/claude-haiku-4.5":               {1200 * time.Millisecond, 350 * time.Millisecond, 1.00, 5.00},
	"anthropic/claude-sonnet-4.5":              {2200 * time.Millisecond, 600 * time.Millisecond, 3.00, 15.00},
	"google/gemini-2.5-flash":                  {900 * time.Millisecond, 300 * time.Millisecond, 0.30, 2.50},
	"google/gemini-2.5-flash-lite":             {600 * time.Millisecond, 200 * time.Millisecond, 0.10, 0.40},
	"meta-llama/llama-4-scout":                 {800 * time.Millisecond, 250 * time.Millisecond, 0.08, 0.30},
	"meta-llama/llama-3.3-70b-instruct":        {2500 * time.Millisecond, 500 * time.Millisecond, 0.13, 0.39},
	"mistralai/mistral-medium-3.1":             {1800 * time.Millisecond, 450 * time.Millisecond, 0.40, 2.00},
	"mistralai/mistral-small-3.2-24b-instruct": {1400 * time.Millisecond, 300 * time.Millisecond, 0.06, 0.18},
}

// Default prices, in US dollars per million tokens, of unknown models.
const (
	defaultInPrice  = 0.50
	defaultOutPrice = 1.50
)

// DefaultProfiles returns a profile for every model of the council tiers,
// each with its own latency (0.6 to 2.5 s to a full answer) and 15 % jitter.
// The map is a fresh copy.
func DefaultProfiles() map[string]Profile {
	out := make(map[string]Profile, len(models))
	for id, m := range models {
		out[id] = Profile{Latency: m.latency, TimeToFirstToken: m.ttft, Jitter: 0.15}
	}
	return out
}

// Models returns the ids of every model the simulator knows, sorted.
func Models() []string {
	out := make([]string, 0, len(models))
	for id := range models {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// Usage estimates the usage of answering req with content: one token per
// four bytes (at least one), priced from the model's list price.
func Usage(req *provider.Request, content string) provider.Usage {
	in := 0
	for _, m := range req.Messages {
		in += len(m.Content)
	}
	u := provider.Usage{InputTokens: tokens(in), OutputTokens: tokens(len(content))}
	u.Cost = PriceOf(req.Model).Cost(u.InputTokens, u.OutputTokens)
	return u
}

// ContextLength is the context length the simulator reports for every model.
const ContextLength = 128000

// PriceOf returns the list price of model, or the default price of models
// the simulator does not know.
func PriceOf(model string) provider.Price {
	inPrice, outPrice := defaultInPrice, defaultOutPrice
	if m, ok := models[model]; ok {
		inPrice, outPrice = m.inPrice, m.outPrice
	}
	return provider.Price{Prompt: inPrice / 1e6, Completion: outPrice / 1e6}
}

// tokens estimates the token count of n bytes of text.
func tokens(n int) int64 {
	return int64(max(1, n/4))
}
