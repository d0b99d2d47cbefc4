package bench

import (
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/provider"
)

// Upstream is a fake OpenRouter serving a [Profile]'s models. It records
// when the last byte of each answer to a tagged consultation (see
// [Question]) was written and how late that was, for [Upstream.Take], and
// counts the connections
// clients open to it. It keeps no request bodies, so its memory stays
// bounded however long it runs.
//
// It serves the fake on a plain http.Server: httptest's server tracks
// every connection's state under one lock, which thousands of concurrent
// connections turn into a queue that would be measured as the service's.
type Upstream struct {
	fake    *openroutertest.Server
	http    *http.Server
	url     string
	record  atomic.Bool
	conns   atomic.Int64
	certPEM []byte

	mu    sync.Mutex
	ended map[answerKey][]Ended // in the order the answers ended
}

// Ended is when an answer's last byte left the upstream.
type Ended struct {
	At time.Time
	// Late is how long after the model's latency that was: the upstream's
	// own lag, which counts against the server in every figure measured
	// at the client.
	Late time.Duration
}

// answerKey names the answers of one model in one consultation.
type answerKey struct{ tag, model string }

// StartUpstream starts a fake OpenRouter on a loopback port answering as p
// says: over HTTPS, with HTTP/2, like OpenRouter, when secure is set (see
// [Upstream.CertPEM]), else over plain HTTP/1.1. The caller must Close it.
func StartUpstream(p Profile, secure bool) (*Upstream, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	scheme := "http"
	var cert tls.Certificate
	u := &Upstream{ended: make(map[answerKey][]Ended)}
	if secure {
		if cert, u.certPEM, err = selfSigned(); err != nil {
			lis.Close()
			return nil, err
		}
		scheme = "https"
	}
	u.url = scheme + "://" + lis.Addr().String() + "/api/v1"
	u.record.Store(true)
	u.fake = openroutertest.NewServer(openroutertest.WithoutRecording(), openroutertest.WithAnswerHook(u.answered))
	u.http = &http.Server{
		Handler:           u.fake.Handler(),
		ReadHeaderTimeout: time.Minute,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	if secure {
		// ServeTLS offers HTTP/2 as well as HTTP/1.1.
		u.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
		go func() { _ = u.http.ServeTLS(lis, "", "") }()
	} else {
		go func() { _ = u.http.Serve(lis) }()
	}
	u.SetProfile(p)
	return u, nil
}

// CertPEM returns the PEM certificate a client must trust to reach a
// secure upstream, or nil for a plain one.
func (u *Upstream) CertPEM() []byte { return u.certPEM }

// SetProfile makes the models of p answer with its latencies from now on.
// The random delays of models with a Jitter are drawn from a generator
// seeded with the request's number for its model, so that every run
// against a fresh upstream sees the same delays in the same order.
func (u *Upstream) SetProfile(p Profile) {
	models := append(append(append([]Model(nil), p.Council...), p.Chairman), p.Backups...)
	behaviors := make(map[string]openroutertest.Behavior, len(models))
	jitter := make(map[string]time.Duration)
	for _, m := range models {
		b := openroutertest.Behavior{Latency: m.Latency, TTFT: m.TTFT, Content: p.Content, Chunks: p.Chunks}
		u.fake.SetBehavior(m.ID, b)
		behaviors[m.ID] = b
		if m.Jitter > 0 {
			jitter[m.ID] = m.Jitter
		}
	}
	if len(jitter) == 0 {
		u.fake.SetScript(nil)
		return
	}
	u.fake.SetScript(func(model string, n int) openroutertest.Behavior {
		b := behaviors[model]
		if j := jitter[model]; j > 0 {
			b.Latency += time.Duration(rand.New(rand.NewPCG(uint64(n), 0x5eed)).Int64N(int64(j)))
		}
		return b
	})
}

// SetRecording turns the recording of last-byte times on or off; a
// throughput run that never calls Take turns it off.
func (u *Upstream) SetRecording(on bool) { u.record.Store(on) }

// URL returns the API root to give the server, like "http://127.0.0.1:port/api/v1".
func (u *Upstream) URL() string { return u.url }

// Key returns the API key the upstream accepts.
func (u *Upstream) Key() string { return u.fake.Key() }

// Requests returns the number of chat-completion requests received.
func (u *Upstream) Requests() int { return u.fake.Requests() }

// RequestsFor returns the number of chat-completion requests for model.
func (u *Upstream) RequestsFor(model string) int { return u.fake.RequestsFor(model) }

// InFlight returns the number of chat-completion requests being answered.
func (u *Upstream) InFlight() int { return u.fake.InFlight() }

// Connections returns the number of connections clients have opened.
func (u *Upstream) Connections() int64 { return u.conns.Load() }

// Close ends the requests still running and stops the upstream.
func (u *Upstream) Close() {
	u.fake.Close()
	_ = u.http.Close()
}

// answered is the answer hook: it notes when the answer's last byte left.
func (u *Upstream) answered(a openroutertest.Answer) {
	if !u.record.Load() {
		return
	}
	tag := tagOf(a.Request.Messages)
	if tag == "" {
		return
	}
	k := answerKey{tag, a.Request.Model}
	u.mu.Lock()
	u.ended[k] = append(u.ended[k], Ended{At: a.LastByte, Late: a.Late()})
	u.mu.Unlock()
}

// Take returns, and forgets, when the answers of each of models in the
// consultation tagged tag ended, in the order they ended. For a council
// model the first is its Stage 1 answer and the second its ranking, since
// it ranks only once every answer is in.
func (u *Upstream) Take(tag string, models []string) map[string][]Ended {
	out := make(map[string][]Ended, len(models))
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, m := range models {
		k := answerKey{tag, m}
		if es, ok := u.ended[k]; ok {
			out[m] = es
			delete(u.ended, k)
		}
	}
	return out
}

// tagOpen and tagClose delimit a consultation's tag in its question; every
// prompt of the consultation quotes the question, so the upstream finds
// the tag in each of its calls.
const (
	tagOpen  = "[consultation "
	tagClose = "]"
)

// Question returns the question of the consultation tagged tag.
func Question(tag string) string {
	return fmt.Sprintf("Why is the sky blue? %s%s%s", tagOpen, tag, tagClose)
}

// tagOf finds the consultation tag in a request's messages.
func tagOf(msgs []provider.Message) string {
	for i := len(msgs) - 1; i >= 0; i-- {
		c := msgs[i].Content
		start := strings.Index(c, tagOpen)
		if start < 0 {
			continue
		}
		rest := c[start+len(tagOpen):]
		if end := strings.Index(rest, tagClose); end > 0 {
			return rest[:end]
		}
	}
	return ""
}
