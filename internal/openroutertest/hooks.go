package openroutertest

import "time"

// WithoutRecording makes the server keep no copy of the requests it
// receives, so that a long benchmark runs in bounded memory: [Server.Recorded]
// returns nil, while every counter still counts.
func WithoutRecording() Option { return func(s *Server) { s.st.discard = true } }

// WithAnswerHook sets a function told about every request answered in full
// with status 200: it is called once the last bytes of the answer (a
// stream's "data: [DONE]" or the end of a document) have been written and
// flushed, with the request and the time that final write began. Answers cut
// short (mid-stream errors, truncation, clients that went away) and error
// statuses are not reported. It runs on the request's handler goroutine
// before the handler returns, so it must be quick and safe for concurrent use.
func WithAnswerHook(f func(req Request, lastByte time.Time)) Option {
	return func(s *Server) { s.onAnswer = f }
}

// sendLast writes the final bytes of a complete answer, like send, and then
// tells the answer hook, if any.
func (ex *exchange) sendLast(s string) {
	at := time.Now()
	if ex.send(s) && ex.s.onAnswer != nil {
		ex.s.onAnswer(ex.req, at)
	}
}
