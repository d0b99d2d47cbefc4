package openrouter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/provider"
)

// testKey is the API key of every test client; no error may contain it.
const testKey = "sk-or-v1-test-0123456789abcdef"

// fixedNow is the clock of every test client, so HTTP-date Retry-After
// values are deterministic.
var fixedNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newTestClient starts an httptest server with h and returns a client for
// it whose base URL is the server's /api/v1. Both are closed at cleanup.
func newTestClient(t *testing.T, h http.HandlerFunc, mods ...func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL + "/api/v1", APIKey: testKey}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(srv.Client(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.now = func() time.Time { return fixedNow }
	return c
}

// userRequest is a minimal valid request.
func userRequest(onDelta func(string)) *provider.Request {
	return &provider.Request{
		Model:    "openai/gpt-4o-mini",
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "Why is the sky blue?"}},
		OnDelta:  onDelta,
	}
}

// sseHandler answers with an event stream, writing and flushing each part
// separately.
func sseHandler(parts ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("X-Generation-Id", "gen-header")
		w.WriteHeader(http.StatusOK)
		for _, p := range parts {
			_, _ = w.Write([]byte(p))
			w.(http.Flusher).Flush()
		}
	}
}

// rawHandler answers with a status, content type and body.
func rawHandler(status int, contentType, body string, header http.Header) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// chunk renders a chat-completion chunk carrying a content delta.
func chunk(content string) string {
	quoted, err := json.Marshal(content)
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf(`{"id":"gen-1","object":"chat.completion.chunk","created":1700000000,"model":"openai/gpt-4o-mini-2024-07-18","provider":"OpenAI","choices":[{"index":0,"delta":{"role":"assistant","content":%s},"finish_reason":null,"native_finish_reason":null}]}`, quoted)
}

// event renders one SSE data event with LF line endings.
func event(data string) string { return "data: " + data + "\n\n" }

// Frames of a typical OpenRouter stream.
var (
	frameProcessing = ": OPENROUTER PROCESSING\n\n"
	frameFinish     = event(`{"id":"gen-1","object":"chat.completion.chunk","model":"openai/gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":"stop","native_finish_reason":"stop"}]}`)
	frameUsage      = event(`{"id":"gen-1","object":"chat.completion.chunk","model":"openai/gpt-4o-mini-2024-07-18","choices":[{"index":0,"delta":{"content":""},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,"cost":0.0000042,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}`)
	frameDone       = "data: [DONE]\n\n"
	frameMidError   = event(`{"id":"gen-1","object":"chat.completion.chunk","model":"openai/gpt-4o-mini","provider":"OpenAI","error":{"code":"server_error","message":"Provider disconnected unexpectedly"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}`)
)

// asProviderError fails the test unless err is a *provider.Error.
func asProviderError(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	return pe
}

// assertNoKey fails the test if the key appears in any text of err.
func assertNoKey(t *testing.T, err error) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), testKey) {
			t.Fatalf("error text contains the API key: %q", e.Error())
		}
	}
}

// decodeStream decodes r as a server-sent event stream of chat-completion
// chunks, whatever its first byte (decodeBody would read a body that starts
// with '{' as JSON).
func decodeStream(r io.Reader, onDelta func(string), readErr func(error) *provider.Error) (*result, *provider.Error) {
	d := newDecoder(r, onDelta, readErr)
	defer d.release()
	return d.stream()
}
