package openroutertest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/internal/openroutertest"
)

// patience bounds how long a test waits for something that should be quick.
const patience = 10 * time.Second

const question = "How should I design rate limiting for a gRPC API gateway?"

// start returns a server closed at the end of the test.
func start(t *testing.T, opts ...openroutertest.Option) *openroutertest.Server {
	t.Helper()
	s := openroutertest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s
}

// body returns a chat-completions request body.
func body(model, prompt string, stream bool) string {
	b, _ := json.Marshal(map[string]any{
		"model":      model,
		"messages":   []map[string]string{{"role": "user", "content": prompt}},
		"max_tokens": 512,
		"stream":     stream,
	})
	return string(b)
}

// post sends a chat-completions request with the server's key.
func post(ctx context.Context, t *testing.T, s *openroutertest.Server, payload string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Key())
	req.Header.Set("Content-Type", "application/json")
	return s.Client().Do(req)
}

// mustPost is post that fails the test on a transport error and returns
// the status, headers and whole body.
func mustPost(t *testing.T, s *openroutertest.Server, payload string) (int, http.Header, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	resp, err := post(ctx, t, s, payload)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

// events is a parsed event stream.
type events struct {
	comments []string
	data     []string // payloads before [DONE]
	done     bool     // ended with data: [DONE]
}

// parseSSE splits an event stream into comments and data payloads, as an
// SSE client does: blank lines separate events, ":" starts a comment.
func parseSSE(t *testing.T, raw []byte) events {
	t.Helper()
	var ev events
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
		case strings.HasPrefix(line, ":"):
			ev.comments = append(ev.comments, line)
		case line == "data: [DONE]":
			if ev.done {
				t.Fatal("two [DONE] lines")
			}
			ev.done = true
		case strings.HasPrefix(line, "data: "):
			if ev.done {
				t.Fatalf("data after [DONE]: %s", line)
			}
			ev.data = append(ev.data, strings.TrimPrefix(line, "data: "))
		default:
			t.Fatalf("unexpected stream line %q", line)
		}
	}
	return ev
}

// chunk is the part of a stream chunk or completion the tests read.
type chunk struct {
	ID      string `json:"id"`
	Model   string `json:"model"`
	Object  string `json:"object"`
	Choices []struct {
		Delta *struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"delta"`
		Message *struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     *int64   `json:"prompt_tokens"`
		CompletionTokens *int64   `json:"completion_tokens"`
		TotalTokens      *int64   `json:"total_tokens"`
		Cost             *float64 `json:"cost"`
	} `json:"usage"`
	Error *struct {
		Code     any            `json:"code"`
		Message  string         `json:"message"`
		Metadata map[string]any `json:"metadata"`
	} `json:"error"`
}

// decode unmarshals one chunk or document.
func decode(t *testing.T, payload string) chunk {
	t.Helper()
	var c chunk
	if err := json.Unmarshal([]byte(payload), &c); err != nil {
		t.Fatalf("decoding %q: %v", payload, err)
	}
	return c
}

// deltas returns the concatenated delta content of the data payloads that
// carry some, and the chunks themselves.
func deltas(t *testing.T, data []string) (string, []chunk) {
	t.Helper()
	var b strings.Builder
	var cs []chunk
	for _, d := range data {
		c := decode(t, d)
		cs = append(cs, c)
		if len(c.Choices) == 1 && c.Choices[0].Delta != nil {
			b.WriteString(c.Choices[0].Delta.Content)
		}
	}
	return b.String(), cs
}

// errorDoc is an OpenRouter error body.
type errorDoc struct {
	Error struct {
		Code     int            `json:"code"`
		Message  string         `json:"message"`
		Metadata map[string]any `json:"metadata"`
	} `json:"error"`
}

// eventually waits until cond holds, failing the test after patience.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
