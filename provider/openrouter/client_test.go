package openrouter

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/councilhq/council/provider"
)

func TestNew(t *testing.T) {
	t.Parallel()
	hc := &http.Client{}
	tests := []struct {
		name    string
		client  *http.Client
		cfg     Config
		wantErr bool
	}{
		{name: "defaults", client: hc, cfg: Config{APIKey: testKey}},
		{name: "nil client", cfg: Config{APIKey: testKey}, wantErr: true},
		{name: "no key", client: hc, cfg: Config{}, wantErr: true},
		{name: "key with space", client: hc, cfg: Config{APIKey: testKey + " x"}, wantErr: true},
		{name: "key with newline", client: hc, cfg: Config{APIKey: testKey + "\n"}, wantErr: true},
		{name: "relative url", client: hc, cfg: Config{APIKey: testKey, BaseURL: "/api/v1"}, wantErr: true},
		{name: "ftp url", client: hc, cfg: Config{APIKey: testKey, BaseURL: "ftp://example.com"}, wantErr: true},
		{name: "unparseable url", client: hc, cfg: Config{APIKey: testKey, BaseURL: "http://[::1"}, wantErr: true},
		{name: "negative max tokens", client: hc, cfg: Config{APIKey: testKey, DefaultMaxTokens: -1}, wantErr: true},
		{name: "negative error body", client: hc, cfg: Config{APIKey: testKey, MaxErrorBody: -1}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(tc.client, tc.cfg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("New succeeded, want an error")
				}
				assertNoKey(t, err)
				return
			}
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if c.completionsURL != DefaultBaseURL+"/chat/completions" || c.modelsURL != DefaultBaseURL+"/models" {
				t.Errorf("urls = %q, %q", c.completionsURL, c.modelsURL)
			}
			if c.maxTokens != DefaultMaxTokens || c.maxErrorBody != DefaultMaxErrorBody {
				t.Errorf("defaults = %d, %d", c.maxTokens, c.maxErrorBody)
			}
		})
	}
}

func TestNewTrimsTrailingSlash(t *testing.T) {
	t.Parallel()
	c, err := New(&http.Client{}, Config{APIKey: testKey, BaseURL: "http://localhost:8080/v1/"})
	if err != nil {
		t.Fatal(err)
	}
	if c.completionsURL != "http://localhost:8080/v1/chat/completions" {
		t.Errorf("completions url = %q", c.completionsURL)
	}
}

// captured is what the test server saw of one request.
type captured struct {
	method, path string
	header       http.Header
	body         map[string]json.RawMessage
}

func captureHandler(t *testing.T, got chan<- captured) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body map[string]json.RawMessage
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			t.Errorf("request body is not a JSON object: %v", err)
		}
		got <- captured{method: r.Method, path: r.URL.Path, header: r.Header.Clone(), body: body}
		sseHandler(event(chunk("ok")), frameFinish, frameDone)(w, r)
	}
}

func TestCompleteRequestShape(t *testing.T) {
	t.Parallel()
	temp := 0.25
	tests := []struct {
		name          string
		cfg           func(*Config)
		maxTokens     int
		temperature   *float64
		wantMaxTokens string
		wantTemp      string
	}{
		{name: "default cap", wantMaxTokens: "1024"},
		{name: "configured default cap", cfg: func(c *Config) { c.DefaultMaxTokens = 300 }, wantMaxTokens: "300"},
		{name: "request cap and temperature", maxTokens: 77, temperature: &temp, wantMaxTokens: "77", wantTemp: "0.25"},
		{name: "negative cap uses default", maxTokens: -5, wantMaxTokens: "1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := make(chan captured, 1)
			mods := []func(*Config){func(c *Config) { c.Referer = "https://council.example"; c.Title = "Council" }}
			if tc.cfg != nil {
				mods = append(mods, tc.cfg)
			}
			c := newTestClient(t, captureHandler(t, got), mods...)
			req := userRequest(nil)
			req.Messages = append([]provider.Message{{Role: provider.RoleSystem, Content: "Be brief."}}, req.Messages...)
			req.MaxTokens, req.Temperature = tc.maxTokens, tc.temperature
			req.Metadata = map[string]string{provider.MetaConsultationID: "c-1"}
			if _, err := c.Complete(context.Background(), req); err != nil {
				t.Fatalf("Complete: %v", err)
			}
			cr := <-got
			if cr.method != http.MethodPost || cr.path != "/api/v1/chat/completions" {
				t.Errorf("request = %s %s", cr.method, cr.path)
			}
			for k, want := range map[string]string{
				"Authorization": "Bearer " + testKey,
				"Content-Type":  "application/json",
				"Accept":        "text/event-stream",
				"Http-Referer":  "https://council.example",
				"X-Title":       "Council",
			} {
				if v := cr.header.Get(k); v != want {
					t.Errorf("header %s = %q, want %q", k, v, want)
				}
			}
			wantKeys := []string{"max_tokens", "messages", "model", "stream"}
			if tc.wantTemp != "" {
				wantKeys = append(wantKeys, "temperature")
			}
			var keys []string
			for k := range cr.body {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			sort.Strings(wantKeys)
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("body keys (-want +got):\n%s", diff)
			}
			if s := string(cr.body["max_tokens"]); s != tc.wantMaxTokens {
				t.Errorf("max_tokens = %s, want %s", s, tc.wantMaxTokens)
			}
			if tc.wantTemp != "" && string(cr.body["temperature"]) != tc.wantTemp {
				t.Errorf("temperature = %s, want %s", cr.body["temperature"], tc.wantTemp)
			}
			if s := string(cr.body["stream"]); s != "true" {
				t.Errorf("stream = %s, want true", s)
			}
			if s := string(cr.body["model"]); s != `"openai/gpt-4o-mini"` {
				t.Errorf("model = %s", s)
			}
			var msgs []map[string]string
			if err := json.Unmarshal(cr.body["messages"], &msgs); err != nil {
				t.Fatalf("messages: %v", err)
			}
			want := []map[string]string{{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Why is the sky blue?"}}
			if diff := cmp.Diff(want, msgs); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompleteNoOptionalHeaders(t *testing.T) {
	t.Parallel()
	got := make(chan captured, 1)
	c := newTestClient(t, captureHandler(t, got))
	if _, err := c.Complete(context.Background(), userRequest(nil)); err != nil {
		t.Fatal(err)
	}
	cr := <-got
	for _, k := range []string{"Http-Referer", "X-Title"} {
		if _, ok := cr.header[k]; ok {
			t.Errorf("header %s sent without being configured", k)
		}
	}
}

func TestCompleteRejectsInvalidRequestLocally(t *testing.T) {
	t.Parallel()
	var calls int
	var mu sync.Mutex
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
	})
	nan := float64(0)
	nan /= nan
	for name, req := range map[string]*provider.Request{
		"nil":         nil,
		"no model":    {Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}}},
		"no messages": {Model: "m"},
		"nan temp":    {Model: "m", Messages: []provider.Message{{Role: provider.RoleUser, Content: "hi"}}, Temperature: &nan},
	} {
		_, err := c.Complete(context.Background(), req)
		if pe := asProviderError(t, err); pe.Kind != provider.KindInvalidRequest {
			t.Errorf("%s: kind = %v, want invalid_request", name, pe.Kind)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("server saw %d requests, want 0", calls)
	}
}

func TestCompleteConcurrent(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Model string `json:"model"`
		}
		_ = json.NewDecoder(r.Body).Decode(&body)
		sseHandler(event(chunk("answer from ")), event(chunk(body.Model)), frameFinish, frameDone)(w, r)
	})
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	got := make([]string, n)
	for i := range n {
		wg.Go(func() {
			req := userRequest(nil)
			req.Model = fmt.Sprintf("model-%d", i)
			resp, err := c.Complete(context.Background(), req)
			errs[i] = err
			if err == nil {
				got[i] = resp.Content
			}
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Errorf("call %d: %v", i, errs[i])
		} else if want := fmt.Sprintf("answer from model-%d", i); got[i] != want {
			t.Errorf("call %d content = %q, want %q", i, got[i], want)
		}
	}
}

func TestCompleteCancelMidStream(t *testing.T) {
	t.Parallel()
	disconnected := make(chan struct{})
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, frameProcessing+event(chunk("partial")))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		close(disconnected)
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := c.Complete(ctx, userRequest(func(string) { cancel() }))
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Complete did not return after its context was canceled")
	}
	pe := asProviderError(t, err)
	if pe.Kind != provider.KindCanceled || !pe.Streamed {
		t.Errorf("kind = %v streamed = %v, want canceled and streamed", pe.Kind, pe.Streamed)
	}
	select {
	case <-disconnected:
	case <-time.After(30 * time.Second):
		t.Fatal("server did not see the client disconnect")
	}
}

func TestCompleteDeadline(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		writeHeaders bool
	}{
		{name: "before headers"},
		{name: "mid stream", writeHeaders: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				// The server notices a disconnect only once the body is read.
				_, _ = io.Copy(io.Discard, r.Body)
				if tc.writeHeaders {
					w.Header().Set("Content-Type", "text/event-stream")
					_, _ = io.WriteString(w, frameProcessing)
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done()
			})
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			defer cancel()
			_, err := c.Complete(ctx, userRequest(nil))
			if pe := asProviderError(t, err); pe.Kind != provider.KindTimeout {
				t.Errorf("kind = %v, want timeout", pe.Kind)
			}
		})
	}
}

func TestCompleteNetworkFailures(t *testing.T) {
	t.Parallel()
	t.Run("refused", func(t *testing.T) {
		t.Parallel()
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := lis.Addr().String()
		_ = lis.Close()
		tr := NewTransport()
		defer tr.CloseIdleConnections()
		c, err := New(&http.Client{Transport: tr}, Config{APIKey: testKey, BaseURL: "http://" + addr})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Complete(context.Background(), userRequest(nil))
		pe := asProviderError(t, err)
		if pe.Kind != provider.KindNetwork || pe.StatusCode != 0 {
			t.Errorf("kind = %v status = %d, want network and 0", pe.Kind, pe.StatusCode)
		}
		assertNoKey(t, err)
	})
	t.Run("closed before response", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				_ = conn.Close()
			}
		})
		_, err := c.Complete(context.Background(), userRequest(nil))
		if pe := asProviderError(t, err); pe.Kind != provider.KindNetwork {
			t.Errorf("kind = %v, want network", pe.Kind)
		}
	})
	t.Run("reset mid stream", func(t *testing.T) {
		t.Parallel()
		c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/event-stream")
			_, _ = io.WriteString(w, event(chunk("half an ans")))
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		})
		var deltas []string
		_, err := c.Complete(context.Background(), userRequest(func(d string) { deltas = append(deltas, d) }))
		pe := asProviderError(t, err)
		if pe.Kind != provider.KindNetwork || !pe.Streamed || pe.StatusCode != http.StatusOK {
			t.Errorf("kind = %v streamed = %v status = %d, want network, streamed, 200", pe.Kind, pe.Streamed, pe.StatusCode)
		}
		if diff := cmp.Diff([]string{"half an ans"}, deltas); diff != "" {
			t.Errorf("deltas (-want +got):\n%s", diff)
		}
	})
}

func TestKeyNeverInErrors(t *testing.T) {
	t.Parallel()
	echo := func(w http.ResponseWriter, r *http.Request) string {
		return strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	tests := []struct {
		name string
		h    http.HandlerFunc
	}{
		{name: "401 json body", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprintf(w, `{"error":{"code":401,"message":"Invalid API key %s","metadata":{"error_type":"authentication"}}}`, echo(w, r))
		}},
		{name: "429 text body", h: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = fmt.Fprintf(w, "slow down, %s", echo(w, r))
		}},
		{name: "mid-stream error", h: func(w http.ResponseWriter, r *http.Request) {
			sseHandler(event(chunk("x")), event(fmt.Sprintf(`{"error":{"code":"server_error","message":"key %s failed"},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}`, echo(w, r))))(w, r)
		}},
		{name: "malformed chunk", h: func(w http.ResponseWriter, r *http.Request) {
			sseHandler(event(`{"error":{"code":"x","message":"`+echo(w, r)+`"`))(w, r)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, tc.h)
			_, err := c.Complete(context.Background(), userRequest(func(string) {}))
			if err == nil {
				t.Fatal("Complete succeeded, want an error")
			}
			assertNoKey(t, err)
			pe := asProviderError(t, err)
			if pe.Kind != provider.KindMalformed && (pe.Err == nil || !strings.Contains(pe.Err.Error(), "[REDACTED]")) {
				t.Errorf("Err = %v, want the echoed key redacted", pe.Err)
			}
		})
	}
}

func TestResponseHeaderOnSuccess(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Ratelimit-Remaining", "41")
		sseHandler(event(`{"model":"m","choices":[{"delta":{"content":"hi"},"finish_reason":"stop"}]}`), frameDone)(w, r)
	})
	resp, err := c.Complete(context.Background(), userRequest(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.RateLimits.Shared; !got.Announced || got.Remaining != 41 {
		t.Errorf("shared quota = %+v, want 41 remaining", got)
	}
	if resp.ID != "gen-header" {
		t.Errorf("ID = %q, want the X-Generation-Id fallback", resp.ID)
	}
}

func TestNewTransport(t *testing.T) {
	t.Parallel()
	tr := NewTransport()
	defer tr.CloseIdleConnections()
	if tr.MaxIdleConnsPerHost < 16 || tr.HTTP2 == nil || tr.HTTP2.SendPingTimeout <= 0 || tr.ResponseHeaderTimeout != 0 || !tr.ForceAttemptHTTP2 {
		t.Errorf("transport not tuned for fan-out: %+v", tr)
	}
	srv := httptest.NewServer(sseHandler(event(chunk("pooled")), frameFinish, frameDone))
	defer srv.Close()
	c, err := New(&http.Client{Transport: tr}, Config{APIKey: testKey, BaseURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, err := c.Complete(context.Background(), userRequest(nil))
		if err != nil || resp.Content != "pooled" {
			t.Fatalf("Complete = %v, %v", resp, err)
		}
	}
}

func TestListModels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		status   int
		body     string
		want     []provider.Model
		wantKind provider.Kind
	}{
		{
			name: "ok", status: 200,
			body: `{"data":[{"id":"openai/gpt-4o-mini","name":"GPT-4o mini","context_length":128000,"pricing":{"prompt":"0.00000015","completion":"0.0000006","request":"0"}},` +
				`{"id":""},{"id":"anthropic/claude-3.5-haiku"},{"id":"x/bad-price","pricing":{"prompt":"-1","completion":"NaN"}}]}`,
			want: []provider.Model{
				{ID: "openai/gpt-4o-mini", Name: "GPT-4o mini", ContextLength: 128000, Price: provider.Price{Prompt: 0.00000015, Completion: 0.0000006}},
				{ID: "anthropic/claude-3.5-haiku"},
				{ID: "x/bad-price"},
			},
		},
		{name: "empty list", status: 200, body: `{"data":[]}`, want: []provider.Model{}},
		{name: "unauthorized", status: 401, body: `{"error":{"code":401,"message":"No auth credentials found"}}`, wantKind: provider.KindAuth},
		{name: "overloaded", status: 503, body: ``, wantKind: provider.KindOverloaded},
		{name: "no data", status: 200, body: `{"models":[]}`, wantKind: provider.KindMalformed},
		{name: "not json", status: 200, body: `<html></html>`, wantKind: provider.KindMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/api/v1/models" || r.Header.Get("Authorization") != "Bearer "+testKey {
					t.Errorf("request = %s %s auth %q", r.Method, r.URL.Path, r.Header.Get("Authorization"))
				}
				rawHandler(tc.status, "application/json", tc.body, nil)(w, r)
			})
			got, err := c.ListModels(context.Background())
			if tc.want != nil {
				if err != nil {
					t.Fatalf("ListModels: %v", err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("models (-want +got):\n%s", diff)
				}
				return
			}
			pe := asProviderError(t, err)
			if pe.Kind != tc.wantKind || pe.StatusCode != tc.status {
				t.Errorf("kind = %v status = %d, want %v %d", pe.Kind, pe.StatusCode, tc.wantKind, tc.status)
			}
		})
	}
}

// A 429 whose body carries Gemini's RetryInfo, as OpenRouter passes it on in
// error.metadata.raw, asks for that wait; a longer Retry-After header wins.
func TestRetryInfoBecomesRetryAfter(t *testing.T) {
	t.Parallel()
	raw := `{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.RetryInfo\",\"retryDelay\":\"7s\"}]}}`
	for _, tc := range []struct {
		name, header string
		want         time.Duration
	}{
		{"body only", "", 7 * time.Second},
		{"shorter header", "2", 7 * time.Second},
		{"longer header", "30", 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = io.WriteString(w, `{"error":{"code":429,"message":"Provider returned error","metadata":{"provider_name":"Google AI Studio","raw":"`+raw+`"}}}`)
			})
			_, err := c.Complete(context.Background(), userRequest(nil))
			pe := asProviderError(t, err)
			if pe.Kind != provider.KindRateLimited || pe.RetryAfter != tc.want {
				t.Errorf("kind = %v, RetryAfter = %v; want rate_limited, %v", pe.Kind, pe.RetryAfter, tc.want)
			}
		})
	}
}
