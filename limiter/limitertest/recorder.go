package limitertest

import (
	"net/http"
	"sync"
)

// Recorder is an [http.RoundTripper] that counts the requests a client
// sends and the 429s it gets back, telling apart those sent after the
// client had received its first 429, when it could know the limit. It is
// safe for concurrent use.
type Recorder struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper

	mu     sync.Mutex
	counts Counts
	seen   bool
}

// Counts is what a Recorder saw.
type Counts struct {
	// Sent and Rejected count every request and every 429.
	Sent, Rejected int
	// SentAfter and RejectedAfter count the requests sent after the first
	// 429 had been received, and the 429s among them.
	SentAfter, RejectedAfter int
}

// RoundTrip sends req through Base and counts it.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	after := r.seen
	r.counts.Sent++
	if after {
		r.counts.SentAfter++
	}
	r.mu.Unlock()
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	resp, err := base.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusTooManyRequests {
		r.mu.Lock()
		r.counts.Rejected++
		if after {
			r.counts.RejectedAfter++
		}
		r.seen = true
		r.mu.Unlock()
	}
	return resp, err
}

// Counts returns the counts so far.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}
