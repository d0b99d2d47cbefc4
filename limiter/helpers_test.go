package limiter_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// epoch is where the fake clocks of the tests across sockets start: a
// whole second, so that epoch-ms and RFC 3339 resets are exact. The tests
// in synctest bubbles start at the bubble's time, midnight UTC on 1
// January 2000, a whole second too.
var epoch = time.Date(2026, 9, 27, 12, 0, 0, 0, time.UTC)

// upstream is a scripted provider: each call takes the next result of the
// script (the last one repeats) and records when it arrived. The tests
// that use it run in synctest bubbles, so time.Now is the bubble's fake
// time.
type upstream struct {
	mu     sync.Mutex
	script []result
	calls  []time.Time
	active int
	peak   int
	block  chan struct{} // when set, calls wait here
}

// result is what a scripted upstream answers: a response or an error,
// with the headers it came with.
type result struct {
	header http.Header
	err    *provider.Error
}

func ok(h http.Header) result { return result{header: h} }

func withHeader(r result, h http.Header) result {
	r.header = h
	return r
}

func fail(kind provider.Kind, status int) result {
	return result{err: &provider.Error{Kind: kind, StatusCode: status, Message: "upstream returned " + http.StatusText(status)}}
}

func (u *upstream) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	u.mu.Lock()
	n := len(u.calls)
	u.calls = append(u.calls, time.Now())
	u.active++
	u.peak = max(u.peak, u.active)
	r := u.script[min(n, len(u.script)-1)]
	block := u.block
	u.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
		}
	}
	u.mu.Lock()
	u.active--
	u.mu.Unlock()
	return r.answer(req, time.Now())
}

// answer is what r says at now, the rate-limit headers read as the
// provider's adapter reads them.
func (r result) answer(req *provider.Request, now time.Time) (*provider.Response, error) {
	if r.err != nil {
		e := *r.err
		if r.header != nil {
			e.RateLimits = openrouter.ParseRateLimits(r.header, now)
			e.RetryAfter = max(e.RetryAfter, openrouter.ParseRetryAfter(r.header, now))
		}
		return nil, &e
	}
	return &provider.Response{Model: req.Model, Content: "ok", RateLimits: openrouter.ParseRateLimits(r.header, now)}, nil
}

// kindOf returns the kind of a call's error, or [provider.KindUnknown]
// when the call succeeded.
func kindOf(err error) provider.Kind {
	if err == nil {
		return provider.KindUnknown
	}
	return provider.AsError(err).Kind
}

// hdr returns the header of the key and value pairs kv.
func hdr(kv ...string) http.Header {
	h := make(http.Header)
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func (u *upstream) times() []time.Time {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]time.Time(nil), u.calls...)
}

func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.calls)
}

func request(model string) *provider.Request {
	return &provider.Request{
		Model:    model,
		Messages: []provider.Message{{Role: provider.RoleUser, Content: "What is the capital of France?"}},
	}
}

// errSecret stands for upstream error text, which must never be recorded.
var errSecret = errors.New("upstream said: key sk-or-secret is over its limit")
