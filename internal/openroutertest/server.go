package openroutertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

// DefaultKey is the API key a server accepts unless [WithKey] sets another.
const DefaultKey = "sk-or-v1-openroutertest"

// Server is a fake OpenRouter. Its methods are safe for concurrent use.
type Server struct {
	srv     *httptest.Server
	handler http.Handler
	key     string
	closing chan struct{}
	once    sync.Once
	seq     atomic.Int64 // generation ids

	mu        sync.Mutex
	behaviors map[string]Behavior
	fallback  Behavior
	script    func(model string, n int) Behavior
	reqScript func(req Request) Behavior
	models    map[string]bool
	prices    map[string]provider.Price
	markup    float64

	onAnswer func(Answer) // WithAnswerHook
	st       stats
}

// Option configures a [Server].
type Option func(*Server)

// WithKey sets the API key the server accepts. Default [DefaultKey].
func WithKey(key string) Option { return func(s *Server) { s.key = key } }

// WithBehavior sets model's behavior, as [Server.SetBehavior] does.
func WithBehavior(model string, b Behavior) Option {
	return func(s *Server) { s.behaviors[model] = b }
}

// WithDefault sets the default behavior, as [Server.SetDefault] does.
func WithDefault(b Behavior) Option { return func(s *Server) { s.fallback = b } }

// WithScript sets the script, as [Server.SetScript] does.
func WithScript(script func(model string, n int) Behavior) Option {
	return func(s *Server) { s.script = script }
}

// WithRequestScript sets a function that decides every request's behavior
// from the whole request (its messages, for example); it overrides
// [WithScript], [WithBehavior] and [WithDefault]. The function may be
// called concurrently and must not keep req.
func WithRequestScript(script func(req Request) Behavior) Option {
	return func(s *Server) { s.reqScript = script }
}

// WithModels adds models to the list GET /api/v1/models returns, which
// always holds every model [sim.Models] knows, every model given a price
// with [WithPrice] and every model given a behavior with [WithBehavior] or
// [Server.SetBehavior].
func WithModels(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.models[id] = true
		}
	}
}

// WithPrice sets the price GET /api/v1/models lists for model and charges
// in usage.cost, as [Server.SetPrice] does, and adds model to the list.
func WithPrice(model string, p provider.Price) Option {
	return func(s *Server) {
		s.prices[model] = p
		s.models[model] = true
	}
}

// WithCostMarkup multiplies the usage.cost the server reports by f, so that
// the cost charged differs from the listed price times the tokens. Default 1.
func WithCostMarkup(f float64) Option { return func(s *Server) { s.markup = f } }

// NewServer starts a server on a loopback port. The caller must Close it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		key:       DefaultKey,
		closing:   make(chan struct{}),
		behaviors: make(map[string]Behavior),
		models:    make(map[string]bool),
		prices:    make(map[string]provider.Price),
		markup:    1,
		st:        stats{perModel: make(map[string]int), changed: make(chan struct{})},
	}
	for _, id := range sim.Models() {
		s.models[id] = true
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/chat/completions", s.chat)
	mux.HandleFunc("GET /api/v1/models", s.listModels)
	s.handler = mux
	s.srv = httptest.NewServer(mux)
	return s
}

// Handler returns the server's HTTP handler, to serve the same fake
// elsewhere too: on an http.Server of one's own, for example, which unlike
// httptest's keeps no per-connection bookkeeping under a shared lock and
// so stays out of the way of a benchmark opening thousands of connections.
// Close still ends the requests it is handling.
func (s *Server) Handler() http.Handler { return s.handler }

// URL returns the API's base URL, like "http://127.0.0.1:port/api/v1".
func (s *Server) URL() string { return s.srv.URL + "/api/v1" }

// CloseClientConnections closes every connection clients hold to the
// server, idle or not, so that a client process can be checked for
// goroutines left behind without waiting for its idle timeout.
func (s *Server) CloseClientConnections() { s.srv.CloseClientConnections() }

// Key returns the API key the server accepts.
func (s *Server) Key() string { return s.key }

// Client returns an HTTP client for the server; Close closes its idle
// connections.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close ends every request still running (hanging ones included, without
// counting them as disconnected), shuts the server down and blocks until
// its handlers have returned.
func (s *Server) Close() {
	s.once.Do(func() { close(s.closing) })
	s.srv.Close()
}

// SetPrice sets the price of model, in US dollars per token, that GET
// /api/v1/models lists and usage.cost charges. Default: the simulator's
// list price ([sim.PriceOf]).
func (s *Server) SetPrice(model string, p provider.Price) {
	s.mu.Lock()
	s.prices[model] = p
	s.mu.Unlock()
}

// price returns model's price.
func (s *Server) price(model string) provider.Price {
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.prices[model]; ok {
		return p
	}
	return sim.PriceOf(model)
}

// usage returns the usage of answering req with content: the simulator's
// token counts, charged at the model's price times the markup.
func (s *Server) usage(req Request, content string) *usage {
	u := sim.Usage(&provider.Request{Model: req.Model, Messages: req.Messages}, content)
	u.Cost = s.price(req.Model).Cost(u.InputTokens, u.OutputTokens) * s.markup
	return usageOf(u)
}

// authorized reports whether r carries the server's key, answering 401
// when it does not.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	switch auth := r.Header.Get("Authorization"); auth {
	case "Bearer " + s.key:
		return true
	case "":
		writeError(w, http.StatusUnauthorized, errorBody(http.StatusUnauthorized, "No auth credentials found", nil))
	default:
		writeError(w, http.StatusUnauthorized, errorBody(http.StatusUnauthorized, "User not found.", nil))
	}
	return false
}

// listModels serves GET /api/v1/models.
func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	s.mu.Lock()
	ids := make([]string, 0, len(s.models)+len(s.behaviors))
	for id := range s.models {
		ids = append(ids, id)
	}
	for id := range s.behaviors {
		if !s.models[id] {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	sort.Strings(ids)
	type pricing struct {
		Prompt     string `json:"prompt"`
		Completion string `json:"completion"`
		Request    string `json:"request"`
	}
	type model struct {
		ID            string  `json:"id"`
		Name          string  `json:"name"`
		ContextLength int     `json:"context_length"`
		Pricing       pricing `json:"pricing"`
	}
	list := struct {
		Data []model `json:"data"`
	}{Data: make([]model, len(ids))}
	for i, id := range ids {
		p := s.price(id)
		list.Data[i] = model{ID: id, Name: id, ContextLength: sim.ContextLength, Pricing: pricing{
			Prompt:     strconv.FormatFloat(p.Prompt, 'g', -1, 64),
			Completion: strconv.FormatFloat(p.Completion, 'g', -1, 64),
			Request:    "0",
		}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
