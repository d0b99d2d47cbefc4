package openrouter_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func ExampleClient_Complete() {
	// A stand-in for OpenRouter that streams a two-piece answer.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, ": OPENROUTER PROCESSING\n\n"+
			`data: {"model":"openai/gpt-4o-mini","choices":[{"delta":{"content":"Rayleigh "}}]}`+"\n\n"+
			`data: {"choices":[{"delta":{"content":"scattering."},"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":3,"cost":0.00001}}`+"\n\n"+
			"data: [DONE]\n\n")
	}))
	defer srv.Close()

	transport := openrouter.NewTransport()
	defer transport.CloseIdleConnections()
	c, err := openrouter.New(&http.Client{Transport: transport}, openrouter.Config{
		BaseURL: srv.URL, // omit for https://openrouter.ai/api/v1
		APIKey:  "sk-or-example",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	resp, err := c.Complete(context.Background(), &provider.Request{
		Model:    "openai/gpt-4o-mini",
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "Why is the sky blue?"}},
		OnDelta:  func(d string) { fmt.Printf("delta %q\n", d) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Content, resp.FinishReason, resp.Usage.InputTokens, resp.Usage.OutputTokens)
	// Output:
	// delta "Rayleigh "
	// delta "scattering."
	// Rayleigh scattering. stop 12 3
}

// ParseRateLimits reads every dialect; here, OpenAI's per-model budget.
func ExampleParseRateLimits() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("x-ratelimit-limit-requests", "60")
	h.Set("x-ratelimit-remaining-requests", "0")
	h.Set("x-ratelimit-reset-requests", "6m0s")
	q := openrouter.ParseRateLimits(h, now).Quotas[provider.Requests]
	fmt.Println(q.Remaining, "of", q.Limit, "in", q.ResetAfter)
	// Output: 0 of 60 in 6m0s
}
