package openroutertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"sync/atomic"
	"time"

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

	onAnswer func(req Request, lastByte time.Time) // WithAnswerHook
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
// always holds every model [sim.Models] knows and every model given a
// behavior with [WithBehavior] or [Server.SetBehavior].
func WithModels(ids ...string) Option {
	return func(s *Server) {
		for _, id := range ids {
			s.models[id] = true
		}
	}
}

// NewServer starts a server on a loopback port. The caller must Close it.
func NewServer(opts ...Option) *Server {
	s := &Server{
		key:       DefaultKey,
		closing:   make(chan struct{}),
		behaviors: make(map[string]Behavior),
		models:    make(map[string]bool),
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
	type model struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	list := struct {
		Data []model `json:"data"`
	}{Data: make([]model, len(ids))}
	for i, id := range ids {
		list.Data[i] = model{ID: id, Name: id}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(list)
}
