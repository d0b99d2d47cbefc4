package openrouter

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// chatRequest is the body of POST /chat/completions.
type chatRequest struct {
	Model       string        `json:"model"`
	Messages    []chatMessage `json:"messages"`
	MaxTokens   int           `json:"max_tokens"`
	Temperature *float64      `json:"temperature,omitempty"`
	Stream      bool          `json:"stream"`
}

// chatMessage is one message of a chatRequest.
type chatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// completion is both a streamed chunk (choices[].delta) and a whole
// non-streamed completion (choices[].message). Error is kept raw because
// servers send it as an object or, occasionally, as a bare string.
type completion struct {
	ID      string          `json:"id"`
	Model   string          `json:"model"`
	Choices []choice        `json:"choices"`
	Usage   *usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`
}

// choice is one element of completion.Choices.
type choice struct {
	Delta        messageContent `json:"delta"`
	Message      messageContent `json:"message"`
	FinishReason string         `json:"finish_reason"`
}

// messageContent is the part of a delta or message this client reads.
type messageContent struct {
	Content string `json:"content"`
}

// usage is OpenRouter's usage accounting; cost is in credits (US dollars).
type usage struct {
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
}

// modelList is the body of GET /models.
type modelList struct {
	Data *[]struct {
		ID            string `json:"id"`
		Name          string `json:"name"`
		ContextLength int    `json:"context_length"`
		Pricing       struct {
			Prompt     string `json:"prompt"`
			Completion string `json:"completion"`
		} `json:"pricing"`
	} `json:"data"`
}

// errorEnvelope is an error response body: {"error": ...}.
type errorEnvelope struct {
	Error json.RawMessage `json:"error"`
}

// wireError is the union of the error objects of OpenRouter
// ({code:int|string, message, metadata{...}}), OpenAI ({type, code}),
// Anthropic ({type, details{error_code}}) and Gemini ({code, status}).
type wireError struct {
	Code     json.RawMessage `json:"code"`
	Message  string          `json:"message"`
	Type     string          `json:"type"`
	Status   string          `json:"status"`
	Metadata struct {
		ErrorType    string                     `json:"error_type"`
		Headers      map[string]json.RawMessage `json:"headers"`
		LimitSource  string                     `json:"limit_source"`
		Reason       string                     `json:"reason"`
		ProviderCode json.RawMessage            `json:"provider_code"`
	} `json:"metadata"`
	Details json.RawMessage `json:"details"`
}

// parseWireError decodes a raw "error" value. It returns nil for an absent
// or null value; a bare string becomes the message of an otherwise empty
// error, and anything else undecodable becomes an empty error.
func parseWireError(raw json.RawMessage) *wireError {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	e := new(wireError)
	if raw[0] == '"' {
		_ = json.Unmarshal(raw, &e.Message)
		return e
	}
	if json.Unmarshal(raw, e) != nil {
		return new(wireError)
	}
	return e
}

// status returns the error's code when it is a number in the HTTP status
// range, or 0.
func (e *wireError) status() int {
	n, err := strconv.Atoi(strings.TrimSpace(string(e.Code)))
	if err != nil || n < 100 || n > 599 {
		return 0
	}
	return n
}

// signals returns the lowercased machine-readable fields of the error (never
// its message), for matching against known error types.
func (e *wireError) signals() []string {
	var s []string
	add := func(v string) {
		if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
			s = append(s, v)
		}
	}
	var code string
	if json.Unmarshal(e.Code, &code) == nil {
		add(code)
	}
	add(e.Type)
	add(e.Status)
	add(e.Metadata.ErrorType)
	add(e.Metadata.Reason)
	add(e.Metadata.LimitSource)
	var details struct {
		ErrorCode string `json:"error_code"`
	}
	if json.Unmarshal(e.Details, &details) == nil {
		add(details.ErrorCode)
	}
	return s
}

// header returns the headers the provider copied into error.metadata.headers,
// with canonical keys. String values are used as is, other JSON values by
// their literal text.
func (e *wireError) header() http.Header {
	if len(e.Metadata.Headers) == 0 {
		return nil
	}
	h := make(http.Header, len(e.Metadata.Headers))
	for k, raw := range e.Metadata.Headers {
		var v string
		if json.Unmarshal(raw, &v) != nil {
			v = string(bytes.TrimSpace(raw))
		}
		if k != "" && v != "" && v != "null" {
			h.Set(k, v)
		}
	}
	return h
}
