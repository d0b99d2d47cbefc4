package limitertest

import (
	"net/http"
	"sync"
	"time"
)

// Recorder is an [http.RoundTripper] that counts the requests a client
// sends and the 429s it gets back, telling apart those sent after the
// client had received its first 429, when it could know the limit. It is
// safe for concurrent use.
type Recorder struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now is the clock that orders requests and answers; nil means
	// time.Now. With a simulated clock, requests sent at the very instant
	// the first 429 arrived are not counted as after it: they raced it.
	Now func() time.Time

	mu     sync.Mutex
	counts Counts
	seen   bool
	first  time.Time
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
	now := r.now()
	r.mu.Lock()
	after := r.seen && now.After(r.first)
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
		now := r.now()
		r.mu.Lock()
		r.counts.Rejected++
		if after {
			r.counts.RejectedAfter++
		}
		if !r.seen {
			r.seen, r.first = true, now
		}
		r.mu.Unlock()
	}
	return resp, err
}

func (r *Recorder) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Counts returns the counts so far.
func (r *Recorder) Counts() Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}
