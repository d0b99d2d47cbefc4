package openroutertest

import (
	"context"
	"sync"

	"github.com/councilhq/council/provider"
)

// Request is one chat-completions request as the server received it.
type Request struct {
	// Model, Messages, MaxTokens (0 when absent), Temperature and Stream
	// are decoded from the body.
	Model       string
	Messages    []provider.Message
	MaxTokens   int
	Temperature *float64
	Stream      bool
	// Authorization is the request's Authorization header.
	Authorization string
	// Body is the raw request body.
	Body []byte
	// N is the 1-based count of requests for Model, this one included.
	N int
}

// stats is what the server observes. It has its own lock so that counting
// never waits on behavior changes.
type stats struct {
	mu           sync.Mutex
	total        int
	perModel     map[string]int
	recorded     []Request
	discard      bool // keep no requests (WithoutRecording)
	inFlight     int
	peak         int
	disconnected int
	changed      chan struct{} // closed and replaced when inFlight changes
}

// record stores req, filling in its N.
func (st *stats) record(req Request) Request {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.total++
	st.perModel[req.Model]++
	req.N = st.perModel[req.Model]
	if !st.discard {
		st.recorded = append(st.recorded, req)
	}
	return req
}

// enter and exit track a request in flight.
func (st *stats) enter() { st.addInFlight(1) }
func (st *stats) exit()  { st.addInFlight(-1) }

func (st *stats) addInFlight(d int) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.inFlight += d
	st.peak = max(st.peak, st.inFlight)
	close(st.changed)
	st.changed = make(chan struct{})
}

// disconnect counts a client that went away before its answer was complete.
func (st *stats) disconnect() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.disconnected++
}

// Requests returns the number of chat-completions requests received.
func (s *Server) Requests() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.total
}

// RequestsFor returns the number of chat-completions requests for model.
func (s *Server) RequestsFor(model string) int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.perModel[model]
}

// Recorded returns every chat-completions request received, in arrival
// order, or nil when the server was started [WithoutRecording]. The slice
// is a copy.
func (s *Server) Recorded() []Request {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return append([]Request(nil), s.st.recorded...)
}

// InFlight returns the number of chat-completions requests being handled.
func (s *Server) InFlight() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.inFlight
}

// PeakInFlight returns the largest InFlight seen.
func (s *Server) PeakInFlight() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.peak
}

// Disconnected returns the number of requests whose client went away
// before the answer was complete.
func (s *Server) Disconnected() int {
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	return s.st.disconnected
}

// WaitInFlight blocks until at least n chat-completions requests are in
// flight at once, or until ctx ends, when it returns ctx's error.
func (s *Server) WaitInFlight(ctx context.Context, n int) error {
	for {
		s.st.mu.Lock()
		cur, changed := s.st.inFlight, s.st.changed
		s.st.mu.Unlock()
		if cur >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
