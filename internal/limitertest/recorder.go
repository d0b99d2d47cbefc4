package limitertest

import (
	"net/http"
	"sync"
	"time"
)

// Recorder is an [http.RoundTripper] that records when each request was
// sent and answered, and with what status, so that a test can count the
// 429s a client ran into after it could know the limit. It is safe for
// concurrent use.
type Recorder struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Now is the clock of the record; nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	log []Exchange
}

// Exchange is one request and its answer.
type Exchange struct {
	// Sent and Done are when the request left and its answer came back.
	Sent, Done time.Time
	// Status is the HTTP status, or 0 when there was no answer.
	Status int
}

// RoundTrip sends req through Base and records it.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	base := r.Base
	if base == nil {
		base = http.DefaultTransport
	}
	ex := Exchange{Sent: r.now()}
	resp, err := base.RoundTrip(req)
	ex.Done = r.now()
	if err == nil {
		ex.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.log = append(r.log, ex)
	r.mu.Unlock()
	return resp, err
}

func (r *Recorder) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// Counts summarises a record.
type Counts struct {
	// Sent and Rejected count every request and every 429.
	Sent, Rejected int
	// SentAfter and RejectedAfter count the requests sent strictly after
	// the first 429 had come back (and after the time given to Count), and
	// the 429s among them.
	SentAfter, RejectedAfter int
}

// Count summarises the record so far. Requests sent at or before since are
// not counted as after the first 429; a test passes the moment the client
// had taken the first 429 into account, or the zero time.
func (r *Recorder) Count(since time.Time) Counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	var first time.Time
	for _, ex := range r.log {
		if ex.Status == http.StatusTooManyRequests && (first.IsZero() || ex.Done.Before(first)) {
			first = ex.Done
		}
	}
	var c Counts
	for _, ex := range r.log {
		c.Sent++
		rejected := ex.Status == http.StatusTooManyRequests
		if rejected {
			c.Rejected++
		}
		if !first.IsZero() && ex.Sent.After(first) && ex.Sent.After(since) {
			c.SentAfter++
			if rejected {
				c.RejectedAfter++
			}
		}
	}
	return c
}
