package openroutertest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

const (
	// maxBody bounds the request body the server reads.
	maxBody = 8 << 20
	// keepAliveEvery is how often a stream waiting for its first token
	// sends a processing comment.
	keepAliveEvery = time.Second
	// processing is OpenRouter's keep-alive comment.
	processing = ": OPENROUTER PROCESSING\n\n"
	// done ends a stream.
	done = "data: [DONE]\n\n"
)

// chat serves POST /api/v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	s.st.enter()
	defer s.st.exit()
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if readErr != nil && r.Context().Err() != nil {
		// The client went away while it sent the request: a request in
		// flight that it cancelled, not a bad one.
		s.clientLeft()
		return
	}
	var cr chatRequest
	decodeErr := json.Unmarshal(body, &cr)
	msgs, msgErr := cr.messages()
	req := s.st.record(Request{
		Model: cr.Model, Messages: msgs, MaxTokens: cr.MaxTokens, Temperature: cr.Temperature, Stream: cr.Stream,
		Authorization: r.Header.Get("Authorization"), Body: body,
	})
	if !s.authorized(w, r) {
		return
	}
	if readErr != nil || decodeErr != nil || msgErr != nil || cr.Model == "" || len(msgs) == 0 {
		writeError(w, http.StatusBadRequest, errorBody(http.StatusBadRequest, invalidBodyMessage, map[string]any{"error_type": "invalid_request"}))
		return
	}
	ex := &exchange{
		s: s, w: w, r: r, rc: http.NewResponseController(w),
		b: s.behavior(req), req: req,
		id: fmt.Sprintf("gen-%d-%s", s.seq.Add(1), strconv.FormatInt(time.Now().UnixNano(), 36)), start: time.Now(),
	}
	ex.serve()
}

// exchange is one chat-completions request being answered.
type exchange struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	rc    *http.ResponseController
	b     Behavior
	req   Request
	id    string
	start time.Time
	// timer is reused by every wait of the exchange.
	timer *time.Timer
}

// serve answers the request as its behavior says.
func (ex *exchange) serve() {
	b, h := ex.b, ex.w.Header()
	h.Set("X-Generation-Id", ex.id)
	if b.Fault == FaultStatus && b.Status == http.StatusTooManyRequests {
		h.Set("X-RateLimit-Limit", "20")
		h.Set("X-RateLimit-Remaining", "0")
		h.Set("X-RateLimit-Reset", strconv.FormatInt(time.Now().Add(time.Minute).UnixMilli(), 10))
	}
	if b.RetryAfter != "" {
		h.Set("Retry-After", b.RetryAfter)
	}
	for k, v := range b.Headers {
		h.Set(k, v)
	}
	switch b.Fault {
	case FaultHang:
		ex.sleep(time.Time{}, false)
		return
	case FaultStatus:
		if ex.sleep(ex.start.Add(b.TTFT), false) {
			writeError(ex.w, b.Status, statusError(b, h))
		}
		return
	case FaultReset:
		if ex.sleep(ex.start.Add(b.TTFT), false) {
			ex.reset()
		}
		return
	}
	content := b.Content
	if content == "" {
		content = sim.Write(&provider.Request{Model: ex.req.Model, Messages: ex.req.Messages, MaxTokens: ex.req.MaxTokens})
	}
	if b.Fault == FaultEmptyContent {
		content = ""
	}
	if ex.req.Stream {
		ex.stream(content)
	} else {
		ex.document(content)
	}
}

// stream answers with server-sent events.
func (ex *exchange) stream(content string) {
	b, h := ex.b, ex.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	ex.w.WriteHeader(http.StatusOK)
	if !ex.send(processing) || !ex.sleep(ex.start.Add(b.TTFT), true) {
		return
	}
	if b.Fault == FaultMalformedJSON {
		if ex.send(`data: {"id":"` + ex.id + `","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"` + "\n\n") {
			ex.sendLast(done)
		}
		return
	}
	pieces := split(content, b.Chunks)
	n := len(pieces)
	if b.Fault == FaultMidStreamError {
		pieces = pieces[:n/2]
	}
	before, after := ex.contentChunk()
	due := func(i int) time.Time {
		at := ex.start.Add(b.TTFT)
		if n > 1 {
			at = at.Add((b.Latency - b.TTFT) * time.Duration(i) / time.Duration(n-1))
		}
		return at
	}
	for i, p := range pieces {
		if !ex.sleep(due(i), false) {
			return
		}
		// A piece whose successor is already due goes out with it: a fake
		// that has fallen behind its schedule (on a busy machine, or with
		// no latency at all) sends what is due together, as a loaded server
		// does, rather than falling further behind.
		flush := i == len(pieces)-1 || time.Now().Before(due(i+1))
		piece, _ := json.Marshal(p)
		if !ex.write(flush, before, string(piece), after) {
			return
		}
	}
	switch b.Fault {
	case FaultMidStreamError:
		c := ex.chunk("", "error", nil)
		c.Error = midStreamError(b)
		ex.event(c)
		return
	case FaultTruncate:
		return
	}
	u := ex.s.usage(ex.req, content)
	if ex.sleep(ex.start.Add(b.Latency), false) && ex.event(ex.chunk("", "stop", nil)) && ex.event(ex.chunk("", "stop", u)) {
		ex.sendLast(done)
	}
}

// document answers with one JSON document.
func (ex *exchange) document(content string) {
	b := ex.b
	doc := completion{
		ID: ex.id, Provider: providerOf(ex.req.Model), Model: ex.req.Model, Object: "chat.completion", Created: ex.start.Unix(),
		Choices: []choice{{Message: &message{Role: "assistant", Content: content}, FinishReason: ptr("stop"), NativeFinishReason: ptr("stop")}},
		Usage:   ex.s.usage(ex.req, content),
	}
	if b.Fault == FaultMidStreamError {
		runes := []rune(content)
		doc.Choices[0].Message.Content = string(runes[:len(runes)/2])
		doc.Choices[0].FinishReason, doc.Choices[0].NativeFinishReason = ptr("error"), nil
		doc.Error = midStreamError(b)
	}
	body, _ := json.Marshal(doc)
	if b.Fault == FaultMalformedJSON {
		body = []byte(`{"id":"` + ex.id + `","choices":[{"message":{"content":"`)
	}
	h := ex.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))

	if b.Fault == FaultTrickle {
		ex.w.WriteHeader(http.StatusOK)
		pieces := split(string(body), b.Chunks)
		for i, p := range pieces {
			at := ex.start.Add(b.TTFT + (b.Latency-b.TTFT)*time.Duration(i+1)/time.Duration(len(pieces)))
			if !ex.sleep(at, false) {
				return
			}
			if i == len(pieces)-1 {
				ex.sendLast(p)
			} else if !ex.send(p) {
				return
			}
		}
		return
	}
	if !ex.sleep(ex.start.Add(b.Latency), false) {
		return
	}
	if b.Fault == FaultTruncate {
		// Fewer bytes than Content-Length: the server closes the connection.
		body = body[:len(body)/2]
	}
	if b.Fault == FaultTruncate || b.Fault == FaultMidStreamError {
		ex.send(string(body))
		return
	}
	ex.sendLast(string(body))
}

// chunk returns a stream chunk with the given delta, finish reason and usage.
func (ex *exchange) chunk(delta, finish string, u *usage) completion {
	c := choice{Delta: &message{Role: "assistant", Content: delta}}
	if finish != "" {
		c.FinishReason, c.NativeFinishReason = ptr(finish), ptr(finish)
	}
	return completion{
		ID: ex.id, Provider: providerOf(ex.req.Model), Model: ex.req.Model, Object: "chat.completion.chunk",
		Created: ex.start.Unix(), Choices: []choice{c}, Usage: u,
	}
}

// contentChunk returns the data line of a chunk carrying content, cut
// where the content's JSON string goes, so that a stream encodes the rest
// of its chunks once rather than once a piece.
func (ex *exchange) contentChunk() (before, after string) {
	const mark = "\x00content\x00"
	data, _ := json.Marshal(ex.chunk(mark, "", nil))
	quoted, _ := json.Marshal(mark)
	before, after, _ = strings.Cut(string(data), string(quoted))
	return "data: " + before, after + "\n\n"
}

// event sends c as a data line.
func (ex *exchange) event(c completion) bool {
	data, _ := json.Marshal(c)
	return ex.send("data: ", string(data), "\n\n")
}

// send writes the concatenation of parts and flushes it. It returns false,
// counting a disconnect, when the client has gone away.
func (ex *exchange) send(parts ...string) bool {
	return ex.write(true, parts...)
}

// write writes the concatenation of parts, flushing it if flush is set,
// like send.
func (ex *exchange) write(flush bool, parts ...string) bool {
	var err error
	for _, s := range parts {
		if _, err = io.WriteString(ex.w, s); err != nil {
			break
		}
	}
	if err == nil && flush {
		err = ex.rc.Flush()
	}
	if err != nil {
		ex.s.st.disconnect()
		return false
	}
	return true
}

// sleep waits until the given time (for ever when it is zero), sending
// keep-alive comments meanwhile if keepAlive is set. It returns false,
// counting a disconnect, when the client goes away first. When the server
// closes it aborts the handler.
func (ex *exchange) sleep(until time.Time, keepAlive bool) bool {
	var timer, tick <-chan time.Time
	if !until.IsZero() {
		wait := time.Until(until)
		if wait <= 0 && !keepAlive {
			return ex.present()
		}
		if ex.timer == nil {
			ex.timer = time.NewTimer(wait)
		} else {
			ex.timer.Reset(wait)
		}
		defer ex.timer.Stop()
		timer = ex.timer.C
	}
	if keepAlive {
		t := time.NewTicker(keepAliveEvery)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-timer:
			return true
		case <-tick:
			if !ex.send(processing) {
				return false
			}
		case <-ex.r.Context().Done():
			return ex.s.clientLeft()
		case <-ex.s.closing:
			panic(http.ErrAbortHandler)
		}
	}
}

// clientLeft is what a handler does when its client has gone away: it
// aborts the handler if the server is closing, else counts a disconnect and
// returns false.
func (s *Server) clientLeft() bool {
	select {
	case <-s.closing:
		panic(http.ErrAbortHandler)
	default:
	}
	s.st.disconnect()
	return false
}

// present is sleep for a time already past: it reports, without waiting,
// whether the client is still there.
func (ex *exchange) present() bool {
	select {
	case <-ex.r.Context().Done():
		return ex.s.clientLeft()
	case <-ex.s.closing:
		panic(http.ErrAbortHandler)
	default:
		return true
	}
}

// reset closes the connection abruptly, with a TCP RST where possible.
func (ex *exchange) reset() {
	conn, _, err := ex.rc.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// split cuts s into at most n pieces of about equal length, on rune
// boundaries.
func split(s string, n int) []string {
	runes := []rune(s)
	n = min(n, len(runes))
	out := make([]string, n)
	for i := range n {
		out[i] = string(runes[len(runes)*i/n : len(runes)*(i+1)/n])
	}
	return out
}

// ptr returns a pointer to s.
func ptr(s string) *string { return &s }
