package limitertest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

// Dialect is a provider's way of announcing its rate limit.
type Dialect int

// Dialects an [Upstream] speaks.
const (
	// OpenRouter sends no rate-limit headers on success; a 429 carries
	// X-RateLimit-Limit/-Remaining/-Reset (reset as epoch milliseconds),
	// copied into error.metadata.headers of its JSON body.
	OpenRouter Dialect = iota
	// OpenAI sends x-ratelimit-{limit,remaining,reset}-requests on every
	// response, the reset as a duration ("250ms", "1s", "6m0s").
	OpenAI
	// Anthropic sends anthropic-ratelimit-requests-{limit,remaining,reset}
	// on every response, the reset as an RFC 3339 time, and Retry-After
	// (whole seconds) on a 429.
	Anthropic
)

// Dialects lists every dialect.
func Dialects() []Dialect { return []Dialect{OpenRouter, OpenAI, Anthropic} }

// String returns the dialect's name.
func (d Dialect) String() string {
	switch d {
	case OpenRouter:
		return "openrouter"
	case OpenAI:
		return "openai"
	case Anthropic:
		return "anthropic"
	}
	return "dialect(" + strconv.Itoa(int(d)) + ")"
}

// UpstreamConfig configures an [Upstream].
type UpstreamConfig struct {
	// Dialect is how the budget is announced.
	Dialect Dialect
	// Limit is the number of requests admitted per window and budget.
	Limit int
	// Window is the length of the fixed windows, which start at multiples
	// of it (see time.Time.Truncate).
	Window time.Duration
	// PerModel gives every model its own budget, as OpenAI and Anthropic
	// meter; otherwise all models share one, as OpenRouter's limits per key.
	PerModel bool
	// Now is the server's clock: time.Now, or a fake clock's Now shared
	// with the client, or either shifted to play a provider whose clock
	// differs from the client's. Responses carry it in their Date header.
	Now func() time.Time
	// Models is what GET /models lists, free of charge, so that councild
	// can start against the Upstream. The completions accept any model.
	Models []string
}

// Upstream is an OpenAI-compatible chat-completions server (POST
// /chat/completions, streamed or not, and GET /models) that admits at most Limit requests
// per window and budget and answers the others with 429, announcing its
// budget in its [Dialect]. Rejected requests do not count against the
// window. Answers are written by [sim.Write], so rankings and syntheses
// parse. It is safe for concurrent use.
type Upstream struct {
	// URL is the server's base URL, to be used as an OpenRouter BaseURL.
	URL string

	cfg UpstreamConfig
	srv *httptest.Server

	mu       sync.Mutex
	admitted map[Slot]int
	requests int
	rejected int
}

// NewUpstream starts an Upstream. Close it when done.
func NewUpstream(cfg UpstreamConfig) *Upstream {
	u := &Upstream{cfg: cfg, admitted: make(map[Slot]int)}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	u.URL = u.srv.URL
	return u
}

// Close shuts the server down.
func (u *Upstream) Close() { u.srv.Close() }

// Slot is one window of one budget.
type Slot struct {
	// Budget is the model, or "" when the models share one budget.
	Budget string
	// Start is when the window opened.
	Start time.Time
}

// Stats is what an Upstream saw.
type Stats struct {
	// Requests is the number of completion requests received.
	Requests int
	// Rejected is the number answered with 429.
	Rejected int
	// Admitted is the number of requests admitted in each slot that
	// admitted any.
	Admitted map[Slot]int
}

// Stats returns what the Upstream has seen so far.
func (u *Upstream) Stats() Stats {
	u.mu.Lock()
	defer u.mu.Unlock()
	return Stats{Requests: u.requests, Rejected: u.rejected, Admitted: maps.Clone(u.admitted)}
}

type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	} `json:"messages"`
	Stream bool `json:"stream"`
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/models" {
		u.listModels(w)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/chat/completions" {
		http.NotFound(w, r)
		return
	}
	var body chatRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Model == "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":400,"message":"invalid request"}}`)
		return
	}
	now := u.cfg.Now()
	start := now.Truncate(u.cfg.Window)
	reset := start.Add(u.cfg.Window)
	slot := Slot{Start: start}
	if u.cfg.PerModel {
		slot.Budget = body.Model
	}

	u.mu.Lock()
	u.requests++
	ok := u.admitted[slot] < u.cfg.Limit
	if ok {
		u.admitted[slot]++
	} else {
		u.rejected++
	}
	remaining := u.cfg.Limit - u.admitted[slot]
	u.mu.Unlock()

	// The Date header follows the server's clock, as a provider's does.
	w.Header().Set("Date", now.UTC().Format(http.TimeFormat))
	u.announce(w.Header(), now, reset, remaining, ok)
	if !ok {
		u.reject(w, reset, now)
		return
	}
	req := &provider.Request{Model: body.Model}
	for _, m := range body.Messages {
		req.Messages = append(req.Messages, provider.Message{Role: provider.Role(m.Role), Content: m.Content})
	}
	answer(w, body.Model, sim.Write(req), sim.Usage(req, ""), body.Stream)
}

// listModels serves GET /models in OpenRouter's format.
func (u *Upstream) listModels(w http.ResponseWriter) {
	type pricing struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
	}
	type model struct {
		ID            string  `json:"id"`
		Name          string  `json:"name"`
		ContextLength int     `json:"context_length"`
		Pricing       pricing `json:"pricing"`
	}
	list := struct {
		Data []model `json:"data"`
	}{Data: []model{}}
	for _, id := range u.cfg.Models {
		list.Data = append(list.Data, model{ID: id, Name: id, ContextLength: 128_000, Pricing: pricing{Prompt: "0", Completion: "0"}})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}

// announce sets the rate-limit headers of the dialect.
func (u *Upstream) announce(h http.Header, now, reset time.Time, remaining int, ok bool) {
	limit, rem := strconv.Itoa(u.cfg.Limit), strconv.Itoa(remaining)
	switch u.cfg.Dialect {
	case OpenRouter:
		if !ok {
			h.Set("X-RateLimit-Limit", limit)
			h.Set("X-RateLimit-Remaining", rem)
			h.Set("X-RateLimit-Reset", strconv.FormatInt(reset.UnixMilli(), 10))
		}
	case OpenAI:
		h.Set("x-ratelimit-limit-requests", limit)
		h.Set("x-ratelimit-remaining-requests", rem)
		h.Set("x-ratelimit-reset-requests", reset.Sub(now).String())
	case Anthropic:
		h.Set("anthropic-ratelimit-requests-limit", limit)
		h.Set("anthropic-ratelimit-requests-remaining", rem)
		h.Set("anthropic-ratelimit-requests-reset", reset.UTC().Format(time.RFC3339Nano))
		if !ok {
			h.Set("Retry-After", strconv.Itoa(int(math.Ceil(reset.Sub(now).Seconds()))))
		}
	}
}

// reject writes the dialect's 429 body.
func (u *Upstream) reject(w http.ResponseWriter, reset, now time.Time) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusTooManyRequests)
	switch u.cfg.Dialect {
	case OpenRouter:
		fmt.Fprintf(w, `{"error":{"code":429,"message":"Rate limit exceeded: limit_rpm","metadata":{"headers":{"X-RateLimit-Limit":"%d","X-RateLimit-Remaining":"0","X-RateLimit-Reset":"%d"},"provider_name":null}},"user_id":"user_test"}`,
			u.cfg.Limit, reset.UnixMilli())
	case OpenAI:
		fmt.Fprintf(w, `{"error":{"message":"Rate limit reached for requests. Please try again in %s.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			reset.Sub(now))
	default:
		fmt.Fprint(w, `{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit."}}`)
	}
}

// answer writes a successful completion, as server-sent events when
// streaming was asked for.
func answer(w http.ResponseWriter, model, content string, usage provider.Usage, stream bool) {
	type delta struct {
		Content string `json:"content,omitempty"`
	}
	type choice struct {
		Delta        *delta  `json:"delta,omitempty"`
		Message      *delta  `json:"message,omitempty"`
		FinishReason *string `json:"finish_reason"`
	}
	type usageJSON struct {
		PromptTokens     int64   `json:"prompt_tokens"`
		CompletionTokens int64   `json:"completion_tokens"`
		Cost             float64 `json:"cost"`
	}
	type chunk struct {
		ID      string     `json:"id"`
		Model   string     `json:"model"`
		Choices []choice   `json:"choices"`
		Usage   *usageJSON `json:"usage,omitempty"`
	}
	stop := "stop"
	u := &usageJSON{PromptTokens: usage.InputTokens, CompletionTokens: int64(max(1, len(content)/4)), Cost: usage.Cost}
	if !stream {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(chunk{ID: "gen-test", Model: model, Usage: u,
			Choices: []choice{{Message: &delta{Content: content}, FinishReason: &stop}}})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	enc := func(c chunk) {
		b, _ := json.Marshal(c)
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fmt.Fprint(w, ": OPENROUTER PROCESSING\n\n")
	enc(chunk{ID: "gen-test", Model: model, Choices: []choice{{Delta: &delta{Content: content}}}})
	enc(chunk{ID: "gen-test", Model: model, Choices: []choice{{Delta: &delta{}, FinishReason: &stop}}, Usage: u})
	fmt.Fprint(w, "data: [DONE]\n\n")
}
