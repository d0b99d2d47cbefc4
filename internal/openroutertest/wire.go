package openroutertest

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/councilhq/council/provider"
)

// chatRequest is the part of a chat-completions body the server reads.
type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature"`
	Stream      bool          `json:"stream"`
}

// chatMessage is a request message whose content is a string or an array
// of {"type":"text","text":…} parts.
type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// text returns the message's content as plain text.
func (m chatMessage) text() (string, error) {
	var s string
	if err := json.Unmarshal(m.Content, &s); err == nil {
		return s, nil
	}
	var parts []struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal(m.Content, &parts); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String(), nil
}

// messages converts the request's messages.
func (r chatRequest) messages() ([]provider.Message, error) {
	out := make([]provider.Message, len(r.Messages))
	for i, m := range r.Messages {
		text, err := m.text()
		if err != nil {
			return nil, err
		}
		out[i] = provider.Message{Role: provider.Role(m.Role), Content: text}
	}
	return out, nil
}

// completion is a chat.completion document or a chat.completion.chunk event.
type completion struct {
	ID       string    `json:"id"`
	Provider string    `json:"provider"`
	Model    string    `json:"model"`
	Object   string    `json:"object"`
	Created  int64     `json:"created"`
	Choices  []choice  `json:"choices"`
	Usage    *usage    `json:"usage,omitempty"`
	Error    *apiError `json:"error,omitempty"`
}

type choice struct {
	Index              int      `json:"index"`
	Delta              *message `json:"delta,omitempty"`
	Message            *message `json:"message,omitempty"`
	FinishReason       *string  `json:"finish_reason"`
	NativeFinishReason *string  `json:"native_finish_reason"`
	Logprobs           any      `json:"logprobs"`
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type usage struct {
	PromptTokens            int64   `json:"prompt_tokens"`
	CompletionTokens        int64   `json:"completion_tokens"`
	TotalTokens             int64   `json:"total_tokens"`
	Cost                    float64 `json:"cost"`
	IsBYOK                  bool    `json:"is_byok"`
	PromptTokensDetails     tokens  `json:"prompt_tokens_details"`
	CompletionTokensDetails tokens  `json:"completion_tokens_details"`
}

type tokens struct {
	CachedTokens    *int64 `json:"cached_tokens,omitempty"`
	ReasoningTokens *int64 `json:"reasoning_tokens,omitempty"`
}

// usageOf converts a simulated usage to the wire shape.
func usageOf(u provider.Usage) *usage {
	zero := int64(0)
	return &usage{
		PromptTokens:            u.InputTokens,
		CompletionTokens:        u.OutputTokens,
		TotalTokens:             u.InputTokens + u.OutputTokens,
		Cost:                    u.Cost,
		PromptTokensDetails:     tokens{CachedTokens: &zero},
		CompletionTokensDetails: tokens{ReasoningTokens: &zero},
	}
}

// apiError is OpenRouter's error object. Code is a number, or a string in
// some mid-stream errors.
type apiError struct {
	Code     any            `json:"code"`
	Message  string         `json:"message"`
	Metadata map[string]any `json:"metadata,omitempty"`
}

// errorDoc is an error response body.
type errorDoc struct {
	Error apiError `json:"error"`
}

// errorTypes is OpenRouter's normalized error.metadata.error_type by status.
// A 500's is omitted, as OpenRouter masks it.
var errorTypes = map[int]string{
	400: "invalid_request",
	401: "authentication",
	402: "payment_required",
	403: "permission_denied",
	408: "timeout",
	429: "rate_limit_exceeded",
	502: "provider_unavailable",
	503: "provider_overloaded",
}

// errorMessages are OpenRouter-style messages by status.
var errorMessages = map[int]string{
	400: "Invalid request",
	402: "Insufficient credits. Add more using https://openrouter.ai/credits",
	403: "Forbidden",
	408: "Request timed out",
	429: "Rate limit exceeded: free-models-per-min.",
	500: "Internal Server Error",
	502: "Provider returned error",
	503: "Provider is overloaded",
}

// midStreamMessage is the message of FaultMidStreamError's error chunk.
const midStreamMessage = "Provider disconnected unexpectedly"

// invalidBodyMessage is the message of the 400 a malformed request gets.
const invalidBodyMessage = "Invalid request body"

// ErrorTexts returns every message the server writes into its error bodies
// and error chunks, and the parts of them that are the upstream's own
// (such as a rate limit's name), for tests that check no upstream text
// reaches a client.
func ErrorTexts() []string {
	texts := []string{midStreamMessage, invalidBodyMessage, "free-models-per-min"}
	for _, m := range errorMessages {
		texts = append(texts, m)
	}
	slices.Sort(texts)
	return texts
}

// errorBody builds an error document for status. A nil metadata gets none.
func errorBody(status int, msg string, metadata map[string]any) errorDoc {
	return errorDoc{Error: apiError{Code: status, Message: msg, Metadata: metadata}}
}

// statusError builds the error document b's FaultStatus answers with.
// header holds the response headers, from which a 429 copies its
// rate-limit headers into the metadata.
func statusError(b Behavior, header http.Header) errorDoc {
	meta := map[string]any{}
	if t, ok := errorTypes[b.Status]; ok {
		meta["error_type"] = t
	}
	if b.ErrorType != "" {
		meta["error_type"] = b.ErrorType
	}
	for k, v := range b.ErrorMetadata {
		meta[k] = v
	}
	if b.Status == http.StatusTooManyRequests {
		copied := map[string]string{}
		for _, k := range rateLimitHeaders {
			copied[k] = header.Get(k)
		}
		meta["headers"] = copied
	}
	msg, ok := errorMessages[b.Status]
	if !ok {
		msg = http.StatusText(b.Status)
	}
	return errorBody(b.Status, msg, meta)
}

// rateLimitHeaders are the headers OpenRouter puts on its own 429s.
var rateLimitHeaders = []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"}

// midStreamError builds the error of FaultMidStreamError.
func midStreamError(b Behavior) *apiError {
	e := &apiError{Code: "server_error", Message: midStreamMessage, Metadata: map[string]any{"error_type": "provider_unavailable"}}
	if b.Status != 0 {
		e.Code = b.Status
	}
	if b.ErrorType != "" {
		e.Metadata["error_type"] = b.ErrorType
	}
	for k, v := range b.ErrorMetadata {
		e.Metadata[k] = v
	}
	return e
}

// writeError writes an error response.
func writeError(w http.ResponseWriter, status int, doc errorDoc) {
	body, _ := json.Marshal(doc)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// providerNames maps a model's vendor prefix to the provider name
// OpenRouter reports.
var providerNames = map[string]string{
	"openai":     "OpenAI",
	"anthropic":  "Anthropic",
	"google":     "Google AI Studio",
	"meta-llama": "DeepInfra",
	"mistralai":  "Mistral",
}

// providerOf returns the provider name for model.
func providerOf(model string) string {
	vendor, _, _ := strings.Cut(model, "/")
	if p, ok := providerNames[vendor]; ok {
		return p
	}
	return "OpenRouter Test"
}
