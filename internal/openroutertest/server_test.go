package openroutertest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/provider/sim"
)

// simulated returns what sim writes for a one-message prompt to model.
func simulated(model, prompt string) string {
	return sim.Write(&provider.Request{Model: model, Messages: []provider.Message{{Role: provider.RoleUser, Content: prompt}}})
}

func TestStreamHasOpenRoutersShape(t *testing.T) {
	s := start(t)
	const model = "openai/gpt-5-mini"
	status, header, raw := mustPost(t, s, body(model, question, true))
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", status, header.Get("Content-Type"))
	}
	if !strings.HasPrefix(string(raw), ": OPENROUTER PROCESSING\n\n") {
		t.Errorf("stream does not start with a processing comment: %.60q", raw)
	}
	ev := parseSSE(t, raw)
	if !ev.done {
		t.Fatal("stream does not end with [DONE]")
	}
	content, cs := deltas(t, ev.data)
	if want := simulated(model, question); content != want {
		t.Errorf("deltas make %q, want %q", content, want)
	}
	if len(cs) < 4 {
		t.Fatalf("%d chunks, want content chunks, a finish chunk and a usage chunk", len(cs))
	}
	for i, c := range cs {
		if c.ID != header.Get("X-Generation-Id") || c.Model != model || c.Object != "chat.completion.chunk" || len(c.Choices) != 1 {
			t.Errorf("chunk %d: id %q (header %q), model %q, object %q, %d choices", i, c.ID, header.Get("X-Generation-Id"), c.Model, c.Object, len(c.Choices))
		}
	}
	finish, last := cs[len(cs)-2], cs[len(cs)-1]
	if f := finish.Choices[0].FinishReason; f == nil || *f != "stop" || finish.Usage != nil || finish.Choices[0].Delta.Content != "" {
		t.Errorf("finish chunk = %s", ev.data[len(ev.data)-2])
	}
	u := last.Usage
	if u == nil || u.PromptTokens == nil || u.CompletionTokens == nil || u.TotalTokens == nil || u.Cost == nil {
		t.Fatalf("last chunk has no complete usage: %s", ev.data[len(ev.data)-1])
	}
	if *u.PromptTokens <= 0 || *u.CompletionTokens != int64(len(content)/4) || *u.TotalTokens != *u.PromptTokens+*u.CompletionTokens || *u.Cost <= 0 {
		t.Errorf("usage = %s", ev.data[len(ev.data)-1])
	}
	if f := last.Choices[0].FinishReason; f == nil || *f != "stop" {
		t.Errorf("usage chunk does not repeat the finish reason: %s", ev.data[len(ev.data)-1])
	}
	for _, c := range cs[:len(cs)-2] {
		if c.Choices[0].FinishReason != nil || c.Usage != nil {
			t.Errorf("a content chunk carries a finish reason or usage")
		}
	}
}

func TestDocumentHasOpenRoutersShape(t *testing.T) {
	s := start(t)
	const model = "mistralai/mistral-medium-3.1"
	status, header, raw := mustPost(t, s, body(model, question, false))
	if status != http.StatusOK || header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", status, header.Get("Content-Type"))
	}
	c := decode(t, string(raw))
	if c.Object != "chat.completion" || c.Model != model || len(c.Choices) != 1 || c.Choices[0].Message == nil {
		t.Fatalf("document = %s", raw)
	}
	if want := simulated(model, question); c.Choices[0].Message.Content != want {
		t.Errorf("content %q, want %q", c.Choices[0].Message.Content, want)
	}
	if c.Usage == nil || c.Usage.Cost == nil || *c.Usage.Cost <= 0 || *c.Usage.CompletionTokens <= 0 {
		t.Errorf("usage missing from %s", raw)
	}
}

func TestRankingContentNamesThePromptsLabels(t *testing.T) {
	s := start(t)
	prompt := "Question: " + question + "\n\nResponse A:\nfirst\n\nResponse C:\nsecond\n\nResponse D:\nthird\n\nGive your FINAL RANKING.\n"
	_, _, raw := mustPost(t, s, body("anthropic/claude-haiku-4.5", prompt, true))
	content, _ := deltas(t, parseSSE(t, raw).data)
	_, ranking, ok := strings.Cut(content, "FINAL RANKING:")
	if !ok {
		t.Fatalf("no ranking in %q", content)
	}
	for _, l := range []string{"Response A", "Response C", "Response D"} {
		if strings.Count(ranking, l) != 1 {
			t.Errorf("ranking %q does not name %s once", ranking, l)
		}
	}
	if strings.Contains(ranking, "Response B") {
		t.Errorf("ranking %q names a label the prompt lacks", ranking)
	}
}

func TestBearerKeyIsRequired(t *testing.T) {
	s := start(t, openroutertest.WithKey("sk-secret"))
	cases := []struct{ name, auth, message string }{
		{"missing", "", "No auth credentials found"},
		{"wrong key", "Bearer sk-other", "User not found."},
		{"not bearer", "sk-secret", "User not found."},
	}
	for _, path := range []string{"/chat/completions", "/models"} {
		for _, tc := range cases {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				method := http.MethodGet
				if path == "/chat/completions" {
					method = http.MethodPost
				}
				req, _ := http.NewRequest(method, s.URL()+path, strings.NewReader(body("m/x", question, false)))
				if tc.auth != "" {
					req.Header.Set("Authorization", tc.auth)
				}
				resp, err := s.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var doc errorDoc
				if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != 401 || doc.Error.Code != 401 || doc.Error.Message != tc.message {
					t.Errorf("status %d, error %+v", resp.StatusCode, doc.Error)
				}
			})
		}
	}
	if status, _, _ := mustPost(t, s, body("m/x", question, false)); status != http.StatusOK {
		t.Errorf("with the right key: status %d", status)
	}
	if got := s.Recorded(); len(got) != 4 || got[0].Authorization != "" || got[1].Authorization != "Bearer sk-other" || got[3].Authorization != "Bearer sk-secret" {
		t.Errorf("recorded authorization headers: %+v", got)
	}
}

func TestBadBodyIs400(t *testing.T) {
	s := start(t)
	for _, payload := range []string{`{`, `{"messages":[{"role":"user","content":"hi"}]}`, `{"model":"m/x","messages":[]}`, `{"model":"m/x","messages":[{"role":"user","content":7}]}`} {
		status, _, raw := mustPost(t, s, payload)
		var doc errorDoc
		if err := json.Unmarshal(raw, &doc); err != nil || status != 400 || doc.Error.Code != 400 {
			t.Errorf("%s: status %d, body %s", payload, status, raw)
		}
	}
}

func TestContentPartsAreAccepted(t *testing.T) {
	s := start(t)
	status, _, _ := mustPost(t, s, `{"model":"m/x","messages":[{"role":"user","content":[{"type":"text","text":"Why is "},{"type":"text","text":"the sky blue?"}]}]}`)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	if got := s.Recorded()[0].Messages[0].Content; got != "Why is the sky blue?" {
		t.Errorf("content = %q", got)
	}
}

func TestModelsListsTierAndConfiguredModels(t *testing.T) {
	s := start(t, openroutertest.WithModels("acme/one"), openroutertest.WithBehavior("acme/two", openroutertest.Behavior{}))
	s.SetBehavior("acme/three", openroutertest.Behavior{})
	req, _ := http.NewRequest(http.MethodGet, s.URL()+"/models", nil)
	req.Header.Set("Authorization", "Bearer "+s.Key())
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	for _, want := range append(sim.Models(), "acme/one", "acme/two", "acme/three") {
		if !slices.Contains(ids, want) {
			t.Errorf("models %v lack %s", ids, want)
		}
	}
}

func TestCountsAndRecordsRequests(t *testing.T) {
	s := start(t)
	models := []string{"a/x", "b/y", "a/x"}
	for _, m := range models {
		mustPost(t, s, body(m, question, m == "b/y"))
	}
	if s.Requests() != 3 || s.RequestsFor("a/x") != 2 || s.RequestsFor("b/y") != 1 || s.RequestsFor("c/z") != 0 {
		t.Errorf("requests %d, a/x %d, b/y %d", s.Requests(), s.RequestsFor("a/x"), s.RequestsFor("b/y"))
	}
	rec := s.Recorded()
	if len(rec) != 3 {
		t.Fatalf("%d recorded", len(rec))
	}
	for i, r := range rec {
		if r.Model != models[i] || r.MaxTokens != 512 || r.Stream != (models[i] == "b/y") || r.Authorization != "Bearer "+s.Key() {
			t.Errorf("request %d = %+v", i, r)
		}
		if len(r.Messages) != 1 || r.Messages[0].Role != provider.RoleUser || r.Messages[0].Content != question {
			t.Errorf("request %d messages = %+v", i, r.Messages)
		}
		if !json.Valid(r.Body) {
			t.Errorf("request %d body %q", i, r.Body)
		}
	}
	if rec[0].N != 1 || rec[2].N != 2 || rec[1].N != 1 {
		t.Errorf("per-model counts %d %d %d", rec[0].N, rec[1].N, rec[2].N)
	}
	// A handler may still be returning after its client read the answer.
	eventually(t, "no requests in flight", func() bool { return s.InFlight() == 0 })
	if s.PeakInFlight() < 1 || s.Disconnected() != 0 {
		t.Errorf("peak %d, disconnected %d", s.PeakInFlight(), s.Disconnected())
	}
}

// TestSlowModelDoesNotSerializeRequests sends many requests to one slow
// model at once: each must get its response headers (sent before the long
// wait for the first token) while the others are still waiting.
func TestSlowModelDoesNotSerializeRequests(t *testing.T) {
	const n = 6
	s := start(t, openroutertest.WithDefault(openroutertest.Behavior{TTFT: patience * 10}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	headers := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := post(ctx, t, s, body("slow/model", question, true))
			headers <- err
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wctx, wcancel := context.WithTimeout(ctx, patience)
	defer wcancel()
	if err := s.WaitInFlight(wctx, n); err != nil {
		t.Fatalf("WaitInFlight(%d): %v with %d in flight", n, err, s.InFlight())
	}
	for range n {
		if err := <-headers; err != nil {
			t.Fatalf("no response headers while other requests wait: %v", err)
		}
	}
	if s.InFlight() != n || s.PeakInFlight() != n {
		t.Errorf("in flight %d, peak %d, want %d", s.InFlight(), s.PeakInFlight(), n)
	}
	cancel()
	wg.Wait()
	eventually(t, "every request to notice its client left", func() bool { return s.Disconnected() == n && s.InFlight() == 0 })
}

func TestWaitInFlightHonoursContext(t *testing.T) {
	s := start(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.WaitInFlight(ctx, 1); err != context.Canceled {
		t.Errorf("WaitInFlight on a canceled context = %v", err)
	}
	if err := s.WaitInFlight(ctx, 0); err != nil {
		t.Errorf("WaitInFlight(0) = %v", err)
	}
}

func TestCloseEndsHangingRequests(t *testing.T) {
	s := openroutertest.NewServer(openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultHang}))
	errs := make(chan error, 1)
	go func() {
		resp, err := post(context.Background(), t, s, body("m/x", question, true))
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("hanging request answered %d", resp.StatusCode)
		}
		errs <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.WaitInFlight(ctx, 1); err != nil {
		t.Fatal(err)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close blocked on a hanging request")
	}
	if err := <-errs; err == nil {
		t.Error("the hanging request got no error")
	}
	if s.Disconnected() != 0 {
		t.Errorf("Close counted %d disconnects", s.Disconnected())
	}
}

func TestModelsListPricesAndUsageChargesThem(t *testing.T) {
	custom := provider.Price{Prompt: 2e-6, Completion: 8e-6}
	s := start(t, openroutertest.WithPrice("acme/priced", custom), openroutertest.WithCostMarkup(1.5))
	c, err := openrouter.New(s.Client(), openrouter.Config{BaseURL: s.URL(), APIKey: s.Key()})
	if err != nil {
		t.Fatal(err)
	}
	models, err := c.ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	prices := make(map[string]provider.Price)
	for _, m := range models {
		prices[m.ID] = m.Price
		if m.ContextLength != sim.ContextLength {
			t.Errorf("%s: context length %d", m.ID, m.ContextLength)
		}
	}
	if prices["acme/priced"] != custom {
		t.Errorf("acme/priced listed at %+v, want %+v", prices["acme/priced"], custom)
	}
	if want := sim.PriceOf("openai/gpt-5-mini"); prices["openai/gpt-5-mini"] != want {
		t.Errorf("gpt-5-mini listed at %+v, want the simulator's %+v", prices["openai/gpt-5-mini"], want)
	}
	for _, stream := range []bool{false, true} {
		req := &provider.Request{Model: "acme/priced", Messages: []provider.Message{{Role: provider.RoleUser, Content: question}}}
		if stream {
			req.OnDelta = func(string) {}
		}
		resp, err := c.Complete(context.Background(), req)
		if err != nil {
			t.Fatal(err)
		}
		u := resp.Usage
		want := custom.Cost(u.InputTokens, u.OutputTokens) * 1.5
		if u.InputTokens == 0 || u.OutputTokens == 0 || math.Abs(u.Cost-want) > 1e-12 {
			t.Errorf("stream %v: usage %+v, want cost %g", stream, u, want)
		}
	}
}

func TestClientLeavingWhileSendingTheRequestIsADisconnect(t *testing.T) {
	s := start(t)
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	full := body("openai/gpt-5-mini", "Why is the sky blue?", true)
	// The headers announce the whole body; only half of it is sent.
	if _, err := fmt.Fprintf(conn, "POST %s/chat/completions HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		u.Path, u.Host, s.Key(), len(full), full[:len(full)/2]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.WaitInFlight(ctx, 1); err != nil {
		t.Fatalf("the request never came in: %v", err)
	}
	conn.Close()
	eventually(t, "the request to end as a disconnect", func() bool { return s.Disconnected() == 1 && s.InFlight() == 0 })
	if got := s.Recorded(); len(got) != 0 {
		t.Errorf("recorded %d requests, want none: the client left before it sent one", len(got))
	}
}
