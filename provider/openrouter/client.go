package openrouter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/councilhq/council/provider"
)

// DefaultBaseURL is OpenRouter's API root.
const DefaultBaseURL = "https://openrouter.ai/api/v1"

// Defaults applied by [New] to zero [Config] fields.
const (
	// DefaultMaxTokens is the default of [Config.DefaultMaxTokens].
	DefaultMaxTokens = 1024
	// DefaultMaxErrorBody is the default of [Config.MaxErrorBody], in bytes.
	DefaultMaxErrorBody = 64 << 10
)

// Config holds the settings of a [Client].
type Config struct {
	// BaseURL is the API root: completions are posted to
	// BaseURL+"/chat/completions" and models listed from BaseURL+"/models".
	// Any OpenAI-compatible server works. Default [DefaultBaseURL].
	BaseURL string
	// APIKey is sent as a bearer token. Required. It never appears in errors.
	APIKey string
	// DefaultMaxTokens is the max_tokens sent when a request does not set
	// one; a cap is always sent. Default [DefaultMaxTokens] (1024).
	DefaultMaxTokens int
	// Referer, if set, is sent as the HTTP-Referer header that OpenRouter
	// uses to attribute traffic to an app.
	Referer string
	// Title, if set, is sent as the X-Title header that OpenRouter shows as
	// the app's name.
	Title string
	// MaxErrorBody bounds how many bytes of an error response are read.
	// Default [DefaultMaxErrorBody] (64 KiB).
	MaxErrorBody int64
}

// Client calls an OpenAI-compatible chat-completions API. It implements
// [provider.Completer] and [provider.ModelLister], holds no per-call state
// and is safe for concurrent use.
type Client struct {
	http           *http.Client
	completionsURL string
	modelsURL      string
	apiKey         string
	maxTokens      int
	referer        string
	title          string
	maxErrorBody   int64
	now            func() time.Time
}

var (
	_ provider.Completer   = (*Client)(nil)
	_ provider.ModelLister = (*Client)(nil)
)

// New returns a Client that sends its requests through httpClient, which it
// shares and never closes (see [NewTransport]). It rejects a nil httpClient,
// an empty or malformed APIKey, a BaseURL that is not an absolute http(s)
// URL, and a negative DefaultMaxTokens or MaxErrorBody.
func New(httpClient *http.Client, cfg Config) (*Client, error) {
	if httpClient == nil {
		return nil, errors.New("openrouter: nil http client")
	}
	if cfg.APIKey == "" {
		return nil, errors.New("openrouter: an API key is required")
	}
	if strings.ContainsFunc(cfg.APIKey, func(r rune) bool { return r < 0x21 || r == 0x7f }) {
		return nil, errors.New("openrouter: the API key contains spaces or control characters")
	}
	if cfg.DefaultMaxTokens < 0 || cfg.MaxErrorBody < 0 {
		return nil, errors.New("openrouter: DefaultMaxTokens and MaxErrorBody must not be negative")
	}
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("openrouter: base URL %q is not an absolute http(s) URL", base)
	}
	base = strings.TrimRight(base, "/")
	c := &Client{
		http:           httpClient,
		completionsURL: base + "/chat/completions",
		modelsURL:      base + "/models",
		apiKey:         cfg.APIKey,
		maxTokens:      cfg.DefaultMaxTokens,
		referer:        cfg.Referer,
		title:          cfg.Title,
		maxErrorBody:   cfg.MaxErrorBody,
		now:            time.Now,
	}
	if c.maxTokens == 0 {
		c.maxTokens = DefaultMaxTokens
	}
	if c.maxErrorBody == 0 {
		c.maxErrorBody = DefaultMaxErrorBody
	}
	return c, nil
}

// Complete streams one chat completion. Content deltas reach req.OnDelta on
// the calling goroutine as they arrive; the returned Response holds the whole
// content, usage, finish reason and the HTTP response headers. It blocks
// until the stream ends or ctx is done, and every error is a
// [*provider.Error].
func (c *Client) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	if req == nil || req.Model == "" || len(req.Messages) == 0 {
		return nil, &provider.Error{Kind: provider.KindInvalidRequest, Message: "request needs a model and at least one message"}
	}
	hreq, err := c.completionRequest(ctx, req)
	if err != nil {
		return nil, err
	}
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return c.completion(ctx, req, resp)
}

// do sends hreq and returns its response when its status is 2xx; the
// caller closes the body. Every error is a [*provider.Error].
func (c *Client) do(ctx context.Context, hreq *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(hreq)
	if err != nil {
		return nil, c.fail(transportError(ctx, err), nil, 0)
	}
	if !successful(resp.StatusCode) {
		defer resp.Body.Close()
		return nil, c.statusError(resp)
	}
	return resp, nil
}

// completionRequest builds the HTTP request of a completion. It is a
// function of its own so that its frame is not on the stack while the
// request is sent, the deepest point of a call.
func (c *Client) completionRequest(ctx context.Context, req *provider.Request) (*http.Request, error) {
	body, err := c.completionBody(req)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindInvalidRequest, Message: "request cannot be encoded", Err: err}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, c.completionsURL, body)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnknown, Message: "request cannot be built", Err: err}
	}
	hreq.ContentLength = int64(len(body.b))
	hreq.GetBody = func() (io.ReadCloser, error) { return c.completionBody(req) }
	c.setHeaders(hreq.Header)
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "text/event-stream")
	return hreq, nil
}

// completionBody encodes the body of a completion request.
func (c *Client) completionBody(req *provider.Request) (*sentBody, error) {
	b, err := json.Marshal(c.chatRequest(req))
	if err != nil {
		return nil, err
	}
	return &sentBody{b: b}, nil
}

// sentBody is a request body that lets go of its bytes once they are all
// read, so that the body of a request whose answer streams for seconds is
// not kept in memory meanwhile. The request's GetBody encodes the body
// again for the transport's rare resending of a request whose body it had
// already read (a connection closing under it).
type sentBody struct{ b []byte }

// Read reads the rest of the body.
func (s *sentBody) Read(p []byte) (int, error) {
	if len(s.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	if len(s.b) == 0 {
		s.b = nil
	}
	return n, nil
}

// Close does nothing: the transport may call it while another of its
// goroutines reads, and the bytes go with the last read anyway.
func (s *sentBody) Close() error { return nil }

// completion reads the completion of a successful response.
func (c *Client) completion(ctx context.Context, req *provider.Request, resp *http.Response) (*provider.Response, error) {
	readErr := func(err error) *provider.Error { return transportError(ctx, err) }
	res, pe, bodyHeader := decodeBody(resp.Body, resp.Header.Get("Content-Type"), req.OnDelta, readErr)
	if pe != nil {
		return nil, c.fail(pe, mergeHeader(resp.Header, bodyHeader), resp.StatusCode)
	}
	id := res.id
	if id == "" {
		id = resp.Header.Get("X-Generation-Id")
	}
	model := res.model
	if model == "" {
		model = req.Model
	}
	return &provider.Response{
		ID:           id,
		Model:        model,
		Content:      res.content,
		FinishReason: res.finishReason,
		Usage:        res.usage,
		RateLimits:   ParseRateLimits(resp.Header, c.now()),
	}, nil
}

// ListModels returns the models the server offers, in its order, with
// their prices (OpenRouter's pricing.prompt and pricing.completion, US
// dollars per token as decimal strings; a missing or unparsable price is
// zero). Every error is a [*provider.Error].
func (c *Client) ListModels(ctx context.Context) ([]provider.Model, error) {
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, c.modelsURL, nil)
	if err != nil {
		return nil, &provider.Error{Kind: provider.KindUnknown, Message: "request cannot be built", Err: err}
	}
	c.setHeaders(hreq.Header)
	hreq.Header.Set("Accept", "application/json")
	resp, err := c.do(ctx, hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, c.fail(transportError(ctx, err), resp.Header, resp.StatusCode)
	}
	if len(body) > maxBodyBytes {
		return nil, c.fail(malformed("model list too large", errBodyTooLong), resp.Header, resp.StatusCode)
	}
	var list modelList
	if err := json.Unmarshal(body, &list); err != nil || list.Data == nil {
		if err == nil {
			err = errors.New(`no "data" array`)
		}
		return nil, c.fail(malformed("malformed model list", err), resp.Header, resp.StatusCode)
	}
	models := make([]provider.Model, 0, len(*list.Data))
	for _, m := range *list.Data {
		if m.ID == "" {
			continue
		}
		models = append(models, provider.Model{
			ID:            m.ID,
			Name:          m.Name,
			ContextLength: m.ContextLength,
			Price:         provider.Price{Prompt: perToken(m.Pricing.Prompt), Completion: perToken(m.Pricing.Completion)},
		})
	}
	return models, nil
}

// perToken parses a price in US dollars per token; anything but a finite,
// non-negative number is zero.
func perToken(s string) float64 {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0
	}
	return v
}

// chatRequest builds the wire request; max_tokens is always set.
func (c *Client) chatRequest(req *provider.Request) *chatRequest {
	msgs := make([]chatMessage, len(req.Messages))
	for i, m := range req.Messages {
		msgs[i] = chatMessage{Role: string(m.Role), Content: m.Content}
	}
	maxTokens := req.MaxTokens
	if maxTokens <= 0 {
		maxTokens = c.maxTokens
	}
	return &chatRequest{
		Model:       req.Model,
		Messages:    msgs,
		MaxTokens:   maxTokens,
		Temperature: req.Temperature,
		Stream:      true,
	}
}

func (c *Client) setHeaders(h http.Header) {
	h.Set("Authorization", "Bearer "+c.apiKey)
	if c.referer != "" {
		h.Set("HTTP-Referer", c.referer)
	}
	if c.title != "" {
		h.Set("X-Title", c.title)
	}
}

func successful(status int) bool { return status >= 200 && status < 300 }

// statusError classifies a non-2xx response from its status and its bounded
// error body.
func (c *Client) statusError(resp *http.Response) *provider.Error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, c.maxErrorBody))
	e := parseErrorBody(body)
	pe := &provider.Error{
		Kind:    statusKind(resp.StatusCode, e),
		Message: statusMessage(resp.StatusCode),
	}
	// Gemini's RetryInfo detail is a Retry-After of its own; fail keeps the
	// longest of it and the headers' hints.
	if d, ok := retryInfo(body); ok && d <= maxRetryHint {
		pe.RetryAfter = d
	}
	var bodyHeader http.Header
	if e != nil {
		bodyHeader = e.header()
		pe.Err = fmt.Errorf("upstream status %d: %s", resp.StatusCode, describe(e))
	} else {
		pe.Err = fmt.Errorf("upstream status %d: body %q", resp.StatusCode, truncate(body, 512))
	}
	return c.fail(pe, mergeHeader(resp.Header, bodyHeader), resp.StatusCode)
}

// parseErrorBody finds the error object of an error body: {"error": ...}
// or, as some OpenAI-compatible servers send, [{"error": ...}].
func parseErrorBody(body []byte) *wireError {
	body = bytes.TrimSpace(body)
	var env errorEnvelope
	if len(body) > 0 && body[0] == '[' {
		var list []errorEnvelope
		if json.Unmarshal(body, &list) != nil || len(list) == 0 {
			return nil
		}
		env = list[0]
	} else if json.Unmarshal(body, &env) != nil {
		return nil
	}
	return parseWireError(env.Error)
}

// fail completes pe: the HTTP status, the rate limits and the longest of
// the Retry-After hints of h (the response headers merged with those the
// error body copied) and any wait pe already carries,
// and an Err whose text is replaced by a redacted copy if it contains the
// API key (an upstream error may echo it).
func (c *Client) fail(pe *provider.Error, h http.Header, status int) *provider.Error {
	if pe.StatusCode == 0 {
		pe.StatusCode = status
	}
	if h != nil {
		now := c.now()
		pe.RateLimits = ParseRateLimits(h, now)
		pe.RetryAfter = max(pe.RetryAfter, ParseRetryAfter(h, now))
	}
	if pe.Err != nil && strings.Contains(pe.Err.Error(), c.apiKey) {
		pe.Err = errors.New(strings.ReplaceAll(pe.Err.Error(), c.apiKey, "[REDACTED]"))
	}
	return pe
}

// mergeHeader returns resp with the keys of body it lacks added, as a copy
// when there are any.
func mergeHeader(resp, body http.Header) http.Header {
	if len(body) == 0 {
		return resp
	}
	out := resp.Clone()
	if out == nil {
		out = make(http.Header, len(body))
	}
	for k, v := range body {
		if _, ok := out[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}
