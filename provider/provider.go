package provider

import (
	"context"
	"time"
)

// Role is the author of a chat message.
type Role string

// Message roles understood by OpenAI-compatible chat-completion APIs.
const (
	RoleSystem    Role = "system"
	RoleUser      Role = "user"
	RoleAssistant Role = "assistant"
)

// Message is one chat message.
type Message struct {
	Role    Role
	Content string
}

// Request is one chat-completion request. Interceptors must treat it as
// read-only; one that needs to change it works on a copy (see [Request.Clone]).
type Request struct {
	// Model is the provider's model id, e.g. "openai/gpt-4o-mini".
	Model string
	// Messages is the conversation to complete, oldest first.
	Messages []Message
	// MaxTokens caps the completion length. Adapters always send a cap;
	// zero means the adapter's default.
	MaxTokens int
	// Temperature is the sampling temperature; nil means the provider default.
	Temperature *float64
	// OnDelta, when set, receives each piece of content as the provider
	// streams it, in order, on the calling goroutine. It must not block for long.
	OnDelta func(delta string)
	// Metadata carries correlation values (consultation id, stage) for
	// interceptors and logs. It is never sent upstream.
	Metadata map[string]string
}

// Clone returns a shallow copy of r with its own Messages and Metadata.
func (r *Request) Clone() *Request {
	c := *r
	c.Messages = append([]Message(nil), r.Messages...)
	if r.Metadata != nil {
		c.Metadata = make(map[string]string, len(r.Metadata))
		for k, v := range r.Metadata {
			c.Metadata[k] = v
		}
	}
	return &c
}

// Usage counts the tokens of one completion and, where the provider reports
// it, its cost in US dollars (OpenRouter credits).
type Usage struct {
	InputTokens  int64
	OutputTokens int64
	Cost         float64
}

// Add returns the sum of u and o.
func (u Usage) Add(o Usage) Usage {
	return Usage{
		InputTokens:  u.InputTokens + o.InputTokens,
		OutputTokens: u.OutputTokens + o.OutputTokens,
		Cost:         u.Cost + o.Cost,
	}
}

// Response is a successful chat completion.
type Response struct {
	// ID is the provider's generation id, if any.
	ID string
	// Model is the model that actually answered (it may differ from the request's).
	Model string
	// Content is the full completion text; never empty on success.
	Content string
	// FinishReason is the provider's finish reason ("stop", "length", …).
	FinishReason string
	// Usage is the token usage and cost reported by the provider.
	Usage Usage
	// RateLimits is what the response said about the provider's budgets.
	RateLimits RateLimits
	// Attempts is the number of upstream attempts made, filled in by
	// interceptors that retry; zero means one.
	Attempts int
	// Waited is the time spent waiting before or between attempts (rate
	// limits, backoff), filled in by interceptors that wait.
	Waited time.Duration
}

// Completer performs one chat completion. Implementations must be safe for
// concurrent use and must return either a non-nil *Response with non-empty
// Content or a non-nil error (an *[Error] for upstream failures).
type Completer interface {
	Complete(ctx context.Context, req *Request) (*Response, error)
}

// CompleterFunc adapts a function to [Completer].
type CompleterFunc func(ctx context.Context, req *Request) (*Response, error)

// Complete calls f(ctx, req).
func (f CompleterFunc) Complete(ctx context.Context, req *Request) (*Response, error) {
	return f(ctx, req)
}

// Price is what a model charges, in US dollars per token.
type Price struct {
	Prompt     float64
	Completion float64
}

// Cost returns the price of a call of in prompt tokens and out completion tokens.
func (p Price) Cost(in, out int64) float64 {
	return float64(in)*p.Prompt + float64(out)*p.Completion
}

// Model describes one model a provider serves.
type Model struct {
	// ID is the model's id in requests, e.g. "openai/gpt-4o-mini".
	ID string
	// Name is its display name; it may be empty.
	Name string
	// ContextLength is the most tokens of prompt and completion together;
	// zero when unknown.
	ContextLength int
	// Price is what it charges; zero for a free model or an unknown price.
	Price Price
}

// ModelLister lists the models a provider serves.
type ModelLister interface {
	ListModels(ctx context.Context) ([]Model, error)
}

// ModelIDs returns the ids of models, in order.
func ModelIDs(models []Model) []string {
	out := make([]string, len(models))
	for i, m := range models {
		out[i] = m.ID
	}
	return out
}

// Metadata keys the orchestrator sets on every request.
const (
	MetaConsultationID = "council.consultation_id"
	MetaStage          = "council.stage"
	MetaTier           = "council.tier"
)

// MetaProviderKey is the Metadata key naming the provider credential a call
// is made with: a label such as "openrouter" or "openrouter:team-a", never
// the secret. The limiter keeps budgets and the retry interceptor its retry
// budget per credential and model; calls without it share the empty key,
// which is right for a service with one credential.
const MetaProviderKey = "council.provider_key"
