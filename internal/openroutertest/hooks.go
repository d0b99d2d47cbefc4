package openroutertest

import "time"

// WithoutRecording makes the server keep no copy of the requests it
// receives, so that a long benchmark runs in bounded memory: [Server.Recorded]
// returns nil, while every counter still counts.
func WithoutRecording() Option { return func(s *Server) { s.st.discard = true } }

// Answer is what the answer hook is told about one complete answer.
type Answer struct {
	Request Request
	// Started is when the request's handler began, LastByte when the
	// answer's final write began.
	Started, LastByte time.Time
	// Latency is the behavior's latency: the last byte was due at
	// Started+Latency.
	Latency time.Duration
}

// Late returns how long after it was due the answer's last byte left, zero
// when it left on time: the fake's own lag, as when the machine it runs on
// is too busy to keep its schedule.
func (a Answer) Late() time.Duration {
	return max(0, a.LastByte.Sub(a.Started.Add(a.Latency)))
}

// WithAnswerHook sets a function told about every request answered in full
// with status 200: it is called once the last bytes of the answer (a
// stream's "data: [DONE]" or the end of a document) have been written and
// flushed. Answers cut short (mid-stream errors, truncation, clients that
// went away) and error statuses are not reported. It runs on the request's
// handler goroutine before the handler returns, so it must be quick and
// safe for concurrent use.
func WithAnswerHook(f func(Answer)) Option {
	return func(s *Server) { s.onAnswer = f }
}

// sendLast writes the final bytes of a complete answer, like send, and then
// tells the answer hook, if any.
func (ex *exchange) sendLast(s string) {
	at := time.Now()
	if ex.send(s) && ex.s.onAnswer != nil {
		ex.s.onAnswer(Answer{Request: ex.req, Started: ex.start, LastByte: at, Latency: ex.b.Latency})
	}
}
