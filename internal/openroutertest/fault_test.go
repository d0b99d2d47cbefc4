package openroutertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/internal/openroutertest"
)

func TestStatusFaults(t *testing.T) {
	cases := []struct {
		name      string
		b         openroutertest.Behavior
		status    int
		errorType string // "" when the metadata has none
		check     func(t *testing.T, h http.Header, meta map[string]any)
	}{
		{
			name: "429 with rate-limit headers", status: 429, errorType: "rate_limit_exceeded",
			b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 429, RetryAfter: "7"},
			check: func(t *testing.T, h http.Header, meta map[string]any) {
				if h.Get("Retry-After") != "7" || h.Get("X-RateLimit-Limit") == "" || h.Get("X-RateLimit-Remaining") != "0" {
					t.Errorf("headers %v", h)
				}
				reset, err := strconv.ParseInt(h.Get("X-RateLimit-Reset"), 10, 64)
				if err != nil || time.UnixMilli(reset).Before(time.Now()) || time.UnixMilli(reset).After(time.Now().Add(time.Hour)) {
					t.Errorf("X-RateLimit-Reset %q is not a near-future epoch in ms", h.Get("X-RateLimit-Reset"))
				}
				copied, _ := meta["headers"].(map[string]any)
				for _, k := range []string{"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} {
					if copied[k] != h.Get(k) {
						t.Errorf("metadata.headers[%s] = %v, header %q", k, copied[k], h.Get(k))
					}
				}
			},
		},
		{
			name: "429 with overridden headers", status: 429, errorType: "rate_limit_exceeded",
			b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 429, Headers: map[string]string{"X-RateLimit-Reset": "1790812800000"}},
			check: func(t *testing.T, h http.Header, meta map[string]any) {
				copied, _ := meta["headers"].(map[string]any)
				if h.Get("X-RateLimit-Reset") != "1790812800000" || copied["X-RateLimit-Reset"] != "1790812800000" {
					t.Errorf("reset header %q, copied %v", h.Get("X-RateLimit-Reset"), copied["X-RateLimit-Reset"])
				}
			},
		},
		{name: "default 500 masks its type", status: 500, b: openroutertest.Behavior{Fault: openroutertest.FaultStatus}},
		{name: "502", status: 502, errorType: "provider_unavailable", b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 502}},
		{
			name: "503 overloaded", status: 503, errorType: "provider_overloaded",
			b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 503, RetryAfter: "2"},
			check: func(t *testing.T, h http.Header, _ map[string]any) {
				if h.Get("Retry-After") != "2" || h.Get("X-RateLimit-Limit") != "" {
					t.Errorf("headers %v", h)
				}
			},
		},
		{
			name: "402 in-flight budget", status: 402, errorType: "payment_required",
			b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 402, ErrorMetadata: map[string]string{"limit_source": "openrouter_in_flight_budget"}},
			check: func(t *testing.T, _ http.Header, meta map[string]any) {
				if meta["limit_source"] != "openrouter_in_flight_budget" {
					t.Errorf("metadata %v", meta)
				}
			},
		},
		{name: "400 context length", status: 400, errorType: "context_length_exceeded", b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 400, ErrorType: "context_length_exceeded"}},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+" stream="+strconv.FormatBool(stream), func(t *testing.T) {
				s := start(t, openroutertest.WithBehavior("bad/model", tc.b))
				status, h, raw := mustPost(t, s, body("bad/model", question, stream))
				var doc errorDoc
				if err := json.Unmarshal(raw, &doc); err != nil {
					t.Fatalf("body %s: %v", raw, err)
				}
				if status != tc.status || doc.Error.Code != tc.status || doc.Error.Message == "" {
					t.Errorf("status %d, error %+v", status, doc.Error)
				}
				if got, _ := doc.Error.Metadata["error_type"].(string); got != tc.errorType {
					t.Errorf("error_type %q, want %q", got, tc.errorType)
				}
				if tc.check != nil {
					tc.check(t, h, doc.Error.Metadata)
				}
			})
		}
	}
}

func TestHangEndsWhenTheClientLeaves(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultHang}))
			ctx, cancel := context.WithCancel(context.Background())
			errs := make(chan error, 1)
			go func() {
				resp, err := post(ctx, t, s, body("m/x", question, stream))
				if err == nil {
					resp.Body.Close()
				}
				errs <- err
			}()
			wctx, wcancel := context.WithTimeout(context.Background(), patience)
			defer wcancel()
			if err := s.WaitInFlight(wctx, 1); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := <-errs; !errors.Is(err, context.Canceled) {
				t.Errorf("client error %v, want canceled", err)
			}
			eventually(t, "the disconnect to be counted", func() bool { return s.Disconnected() == 1 && s.InFlight() == 0 })
		})
	}
}

func TestResetClosesTheConnection(t *testing.T) {
	for _, stream := range []bool{false, true} {
		t.Run("stream="+strconv.FormatBool(stream), func(t *testing.T) {
			s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultReset}))
			resp, err := post(context.Background(), t, s, body("m/x", question, stream))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("got a response %d, want a connection error", resp.StatusCode)
			}
			if s.Requests() != 1 || s.Disconnected() != 0 {
				t.Errorf("requests %d, disconnected %d", s.Requests(), s.Disconnected())
			}
		})
	}
}

func TestMalformedJSON(t *testing.T) {
	s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultMalformedJSON}))
	status, _, raw := mustPost(t, s, body("m/x", question, true))
	ev := parseSSE(t, raw)
	if status != 200 || len(ev.data) != 1 || json.Valid([]byte(ev.data[0])) || !ev.done {
		t.Errorf("stream: status %d, data %q, done %v", status, ev.data, ev.done)
	}
	status, _, raw = mustPost(t, s, body("m/x", question, false))
	if status != 200 || json.Valid(raw) || len(raw) == 0 {
		t.Errorf("document: status %d, body %q", status, raw)
	}
}

func TestEmptyContent(t *testing.T) {
	s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultEmptyContent}))
	_, _, raw := mustPost(t, s, body("m/x", question, true))
	ev := parseSSE(t, raw)
	content, cs := deltas(t, ev.data)
	if content != "" || !ev.done || len(cs) != 2 || cs[1].Usage == nil {
		t.Errorf("stream: content %q, done %v, %d chunks", content, ev.done, len(cs))
	}
	_, _, raw = mustPost(t, s, body("m/x", question, false))
	if c := decode(t, string(raw)); c.Choices[0].Message.Content != "" {
		t.Errorf("document content %q", c.Choices[0].Message.Content)
	}
}

func TestMidStreamError(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   any
	}{{0, "server_error"}, {502, float64(502)}} {
		t.Run(strconv.Itoa(tc.status), func(t *testing.T) {
			s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultMidStreamError, Status: tc.status, Chunks: 10}))
			status, _, raw := mustPost(t, s, body("m/x", question, true))
			ev := parseSSE(t, raw)
			if status != 200 || ev.done || len(ev.data) != 6 {
				t.Fatalf("status %d, done %v, %d data lines, want 5 content chunks and an error", status, ev.done, len(ev.data))
			}
			content, cs := deltas(t, ev.data)
			if full := simulated("m/x", question); content == "" || !strings.HasPrefix(full, content) || content == full {
				t.Errorf("content before the error %q is not a proper prefix of the answer", content)
			}
			last := cs[len(cs)-1]
			if last.Error == nil || last.Error.Code != tc.code || last.Error.Message == "" || last.Error.Metadata["error_type"] == nil {
				t.Errorf("error chunk %s", ev.data[len(ev.data)-1])
			}
			if f := last.Choices[0].FinishReason; f == nil || *f != "error" {
				t.Errorf("error chunk finish reason %v", f)
			}

			status, _, raw = mustPost(t, s, body("m/x", question, false))
			c := decode(t, string(raw))
			if status != 200 || c.Error == nil || *c.Choices[0].FinishReason != "error" || c.Choices[0].Message.Content == "" {
				t.Errorf("document: status %d, body %s", status, raw)
			}
		})
	}
}

func TestTrickleSpreadsChunksOverTheLatency(t *testing.T) {
	const latency = 100 * time.Millisecond
	s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultTrickle, Chunks: 20, Latency: latency}))
	for _, stream := range []bool{true, false} {
		begin := time.Now()
		_, _, raw := mustPost(t, s, body("m/x", question, stream))
		if took := time.Since(begin); took < latency {
			t.Errorf("stream=%v took %v, want at least %v", stream, took, latency)
		}
		want := simulated("m/x", question)
		if stream {
			ev := parseSSE(t, raw)
			content, cs := deltas(t, ev.data)
			if content != want || len(cs) != 22 || !ev.done {
				t.Errorf("content ok %v, %d chunks, want 20 content chunks, finish and usage", content == want, len(cs))
			}
		} else if c := decode(t, string(raw)); c.Choices[0].Message.Content != want {
			t.Errorf("trickled document has content %q", c.Choices[0].Message.Content)
		}
	}
}

func TestTruncate(t *testing.T) {
	s := start(t, openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultTruncate}))
	_, _, raw := mustPost(t, s, body("m/x", question, true))
	ev := parseSSE(t, raw)
	content, cs := deltas(t, ev.data)
	if ev.done || content != simulated("m/x", question) {
		t.Errorf("done %v, content complete %v", ev.done, content == simulated("m/x", question))
	}
	for _, c := range cs {
		if c.Choices[0].FinishReason != nil || c.Usage != nil {
			t.Error("a truncated stream carries a finish reason or usage")
		}
	}

	resp, err := post(context.Background(), t, s, body("m/x", question, false))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, err := io.ReadAll(resp.Body); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("reading a truncated document: %d bytes, err %v", len(b), err)
	}
}

func TestScriptSequencesBehaviors(t *testing.T) {
	failTwice := func(model string, n int) openroutertest.Behavior {
		if model == "flaky/model" && n <= 2 {
			return openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 503}
		}
		return openroutertest.Behavior{}
	}
	s := start(t, openroutertest.WithScript(failTwice), openroutertest.WithBehavior("flaky/model", openroutertest.Behavior{Fault: openroutertest.FaultHang}))
	var got []int
	for range 4 {
		status, _, _ := mustPost(t, s, body("flaky/model", question, false))
		got = append(got, status)
	}
	if want := []int{503, 503, 200, 200}; !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if status, _, _ := mustPost(t, s, body("other/model", question, false)); status != 200 {
		t.Errorf("other model: %d", status)
	}
	s.SetScript(nil)
	s.SetDefault(openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 429})
	if status, _, _ := mustPost(t, s, body("other/model", question, false)); status != 429 {
		t.Errorf("after SetDefault: %d", status)
	}
	s.SetBehavior("other/model", openroutertest.Behavior{Content: "fixed"})
	_, _, raw := mustPost(t, s, body("other/model", question, false))
	if c := decode(t, string(raw)); c.Choices[0].Message.Content != "fixed" {
		t.Errorf("after SetBehavior: %q", c.Choices[0].Message.Content)
	}
}
