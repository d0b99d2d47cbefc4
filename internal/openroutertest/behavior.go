package openroutertest

import "time"

// Fault is the way a request goes wrong.
type Fault int

// Faults. Unless stated otherwise, a fault applies to streaming and
// non-streaming requests alike.
const (
	// FaultNone answers normally.
	FaultNone Fault = iota
	// FaultStatus answers with Behavior.Status (default 500) and an
	// OpenRouter error body after TTFT. A 429 also carries X-RateLimit-Limit,
	// X-RateLimit-Remaining and X-RateLimit-Reset (epoch ms) headers,
	// copied into error.metadata.headers.
	FaultStatus
	// FaultHang never answers; the request ends when the client goes away
	// or the server closes.
	FaultHang
	// FaultReset resets the TCP connection after TTFT, before any response.
	FaultReset
	// FaultMalformedJSON sends a data line (or a body) of broken JSON.
	FaultMalformedJSON
	// FaultEmptyContent answers with empty content.
	FaultEmptyContent
	// FaultMidStreamError sends the first half of the content, then a chunk
	// with a top-level error and finish_reason "error", and ends the stream.
	// A non-streaming request gets a 200 body with the partial content and
	// the error.
	FaultMidStreamError
	// FaultTrickle sends the content very slowly: Chunks pieces (default
	// 100) spread over Latency (default 10 s). A non-streaming body trickles
	// out the same way.
	FaultTrickle
	// FaultTruncate sends the content but ends the stream without a finish
	// chunk, usage or [DONE]; a non-streaming body stops halfway.
	FaultTruncate
)

var faultNames = [...]string{"none", "status", "hang", "reset", "malformed_json", "empty_content", "mid_stream_error", "trickle", "truncate"}

// String returns the fault's snake_case name.
func (f Fault) String() string {
	if f >= 0 && int(f) < len(faultNames) {
		return faultNames[f]
	}
	return "unknown"
}

// Behavior is how the server answers one request. The zero value answers
// at once, in 8 chunks when streaming. Its maps are read, never modified,
// and must not be modified after use.
type Behavior struct {
	// Latency is the time from the request to the last byte of the answer.
	Latency time.Duration
	// TTFT is the time to the first content delta, and the time before a
	// Status or Reset fault strikes. A Latency below it is raised to it.
	TTFT time.Duration
	// Chunks is the number of content deltas of a stream (default 8; 100
	// for FaultTrickle). Short content gives fewer.
	Chunks int
	// Fault is what goes wrong, if anything.
	Fault Fault
	// Status is the HTTP status of FaultStatus (default 500). For
	// FaultMidStreamError it is the error chunk's numeric code; when zero
	// the code is the string "server_error", as OpenRouter documents.
	Status int
	// ErrorType overrides error.metadata.error_type, which otherwise
	// follows the status (rate_limit_exceeded, provider_overloaded, …).
	ErrorType string
	// ErrorMetadata adds fields to error.metadata, e.g. "limit_source":
	// "openrouter_in_flight_budget" for a transient 402.
	ErrorMetadata map[string]string
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Headers are extra response headers. They override the 429
	// X-RateLimit-* defaults, and the error body copies the final values.
	Headers map[string]string
	// Content replaces the generated answer when non-empty.
	Content string
}

// Defaults of a Behavior.
const (
	defaultChunks        = 8
	defaultTrickleChunks = 100
	defaultTrickle       = 10 * time.Second
	defaultStatus        = 500
)

// resolved returns b with its defaults filled in.
func (b Behavior) resolved() Behavior {
	if b.Fault == FaultTrickle {
		if b.Chunks <= 0 {
			b.Chunks = defaultTrickleChunks
		}
		if b.Latency <= 0 {
			b.Latency = defaultTrickle
		}
	}
	if b.Chunks <= 0 {
		b.Chunks = defaultChunks
	}
	if b.Fault == FaultStatus && b.Status == 0 {
		b.Status = defaultStatus
	}
	b.Latency = max(b.Latency, b.TTFT)
	return b
}

// SetBehavior sets how model's requests are answered from now on.
func (s *Server) SetBehavior(model string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.behaviors[model] = b
}

// SetDefault sets how requests for models without their own behavior are
// answered from now on.
func (s *Server) SetDefault(b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = b
}

// SetScript sets a function that decides every request's behavior from its
// model and n, the 1-based count of requests for that model so far; it
// overrides SetBehavior and SetDefault. A nil script removes it. The
// function may be called concurrently.
func (s *Server) SetScript(script func(model string, n int) Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = script
}

// behavior returns the behavior of req, the req.N-th request for its model.
func (s *Server) behavior(req Request) Behavior {
	s.mu.Lock()
	script, reqScript := s.script, s.reqScript
	b, ok := s.behaviors[req.Model]
	if !ok {
		b = s.fallback
	}
	s.mu.Unlock()
	switch {
	case reqScript != nil:
		b = reqScript(req)
	case script != nil:
		b = script(req.Model, req.N)
	}
	return b.resolved()
}
