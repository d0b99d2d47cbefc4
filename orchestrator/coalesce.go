package orchestrator

import (
	"strings"
	"sync"
	"time"
)

// DefaultDeltaFlushWindow is how long text deltas are gathered into one
// event unless configured otherwise (see [Config.DeltaFlushWindow]).
const DefaultDeltaFlushWindow = 25 * time.Millisecond

// deltaFlushBytes is how much gathered text is sent at once, whatever
// the window.
const deltaFlushBytes = 1 << 10

// coalescer gathers the text deltas of one stream into fewer, larger
// pieces. A delta that comes when nothing is waiting and the window has
// passed since the last piece went out is sent at once, so the first words
// are never held back; later deltas wait until the window has passed since
// the last piece or deltaFlushBytes are waiting. Its owner flushes it when
// [coalescer.due] passes and when the stream ends.
type coalescer struct {
	window time.Duration
	buf    strings.Builder
	last   time.Time // when the last piece went out
}

// add takes the next delta at now and returns the piece to send at once,
// if any.
func (c *coalescer) add(now time.Time, delta string) (string, bool) {
	if delta == "" {
		return "", false
	}
	if c.buf.Len() == 0 && now.Sub(c.last) >= c.window {
		c.last = now
		return delta, true
	}
	c.buf.WriteString(delta)
	if c.buf.Len() >= deltaFlushBytes {
		return c.take(now), true
	}
	return "", false
}

// waiting reports whether text is waiting to be flushed.
func (c *coalescer) waiting() bool { return c.buf.Len() > 0 }

// due returns when the waiting text must go out.
func (c *coalescer) due() time.Time { return c.last.Add(c.window) }

// take returns the waiting text, empty when none, and starts a new window
// at now.
func (c *coalescer) take(now time.Time) string {
	if c.buf.Len() == 0 {
		return ""
	}
	s := c.buf.String()
	c.buf = strings.Builder{}
	c.last = now
	return s
}

// deltaGate passes a streaming call's deltas from the call's goroutine to
// its consultation's through a coalescer: the call's goroutine wakes the
// consultation's only when a piece is ready to go out or text starts
// waiting for the window, not for every delta.
type deltaGate struct {
	mu    sync.Mutex
	text  coalescer
	ready []string // pieces to send, in order, before the waiting text
	// wake is signalled, without blocking, when there is something for
	// [deltaGate.pending]; gates may share it.
	wake chan<- struct{}
}

// newDeltaGate returns a gate with the flush window window that signals
// wake, a channel with room for one signal.
func newDeltaGate(window time.Duration, wake chan<- struct{}) *deltaGate {
	return &deltaGate{text: coalescer{window: window}, wake: wake}
}

// add takes the next delta, on the call's goroutine. It never blocks.
func (g *deltaGate) add(delta string) {
	g.mu.Lock()
	waited := g.text.waiting()
	piece, ok := g.text.add(time.Now(), delta)
	if ok {
		g.ready = append(g.ready, piece)
	}
	signal := ok || (!waited && g.text.waiting())
	g.mu.Unlock()
	if signal {
		select {
		case g.wake <- struct{}{}:
		default:
		}
	}
}

// pending returns the pieces ready to go out and, when text waits, when
// it is due (zero when none waits).
func (g *deltaGate) pending() ([]string, time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	pieces := g.ready
	g.ready = nil
	if g.text.waiting() {
		return pieces, g.text.due()
	}
	return pieces, time.Time{}
}

// flush returns everything that waits, in order, starting a new window at
// now.
func (g *deltaGate) flush(now time.Time) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	pieces := g.ready
	g.ready = nil
	if s := g.text.take(now); s != "" {
		pieces = append(pieces, s)
	}
	return pieces
}

// flushTimer wakes a consultation's goroutine when the earliest of its
// coalescers is due. Its zero value is a stopped timer.
type flushTimer struct {
	t  *time.Timer
	at time.Time // when t fires; zero when stopped
}

// C returns the channel the timer fires on, nil while it is stopped.
func (f *flushTimer) C() <-chan time.Time {
	if f.at.IsZero() {
		return nil
	}
	return f.t.C
}

// arm makes the timer fire at at, unless it already fires earlier.
func (f *flushTimer) arm(at time.Time) {
	if !f.at.IsZero() && !at.Before(f.at) {
		return
	}
	f.at = at
	d := time.Until(at)
	if f.t == nil {
		f.t = time.NewTimer(d)
		return
	}
	f.t.Reset(d)
}

// fired notes that the timer's channel was received from.
func (f *flushTimer) fired() { f.at = time.Time{} }

// stop stops the timer.
func (f *flushTimer) stop() {
	if f.t != nil {
		f.t.Stop()
	}
	f.at = time.Time{}
}
