package openrouter

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Reading a connection on a clock (see [WithReadTick]).
//
// A streamed completion arrives a token at a time, each in its own TCP
// segment, and by default every segment wakes the process. A clocked
// connection asks the kernel (SO_RCVLOWAT) not to wake its reader until
// lowWater bytes are waiting, and instead reads what has arrived at the
// ticks of a clock: ticks fall on multiples of their length, so the reads
// of all the connections of the process wake together, and one wake-up
// serves every segment that arrived since the last. Closes, resets and
// bursts of lowWater bytes still wake the reader at once.
//
// The small writes of a busy connection wait too, and leave together at
// the reader's first wake-up writeHold after the first of them: the HTTP/2
// client acknowledges every 4 KiB a stream reads with a WINDOW_UPDATE
// frame, written and flushed on its own, which would otherwise be a system
// call for every few tokens. Nothing waits for those frames: the client's
// windows are megabytes, so the server is never short of window. A larger
// write, or any write of a quiet connection, first sends what waits, then
// itself, at once.

const (
	// lowWater is the SO_RCVLOWAT of a clocked connection.
	lowWater = 64 << 10
	// quietAfter is how long a connection may neither read nor write
	// anything before it ticks at idleTick.
	quietAfter = 200 * time.Millisecond
	// idleTick is the tick of a quiet connection: an idle pooled
	// connection wakes a hundred times a second, not a thousand.
	idleTick = 10 * time.Millisecond
	// smallWrite is the largest write that may wait for the reader's next
	// wake-up, and maxPending the most that may wait: a TLS record of a
	// WINDOW_UPDATE frame or two is under a hundred bytes.
	smallWrite = 128
	maxPending = 4 << 10
	// writeHold is how long the first small write waiting may wait; the
	// reader's next wake-up after it sends what waits.
	writeHold = 10 * time.Millisecond
)

// clockedConn is a TCP connection read at the ticks of a clock. It does
// not embed the *net.TCPConn, so that io.Copy cannot reach around its Read
// through the connection's WriteTo.
type clockedConn struct {
	net.Conn
	tcp  *net.TCPConn
	tick time.Duration

	// wmu orders the writes to the socket.
	wmu sync.Mutex

	mu sync.Mutex
	// active is when the connection last read or wrote something.
	active time.Time
	// deadline is the read deadline its user set; zero means none.
	deadline time.Time
	// pending holds the small writes waiting, the first since
	// pendingSince.
	pending      []byte
	pendingSince time.Time
	// werr is the error of the first failed write of waiting bytes;
	// every later write returns it, since what was lost cannot be sent
	// again in order.
	werr error
}

// newClockedConn returns c read at ticks of tick, or c itself when tick is
// not positive, c is not TCP or the system cannot keep a socket with little
// waiting from waking its reader.
func newClockedConn(c net.Conn, tick time.Duration) net.Conn {
	tcp, ok := c.(*net.TCPConn)
	if !ok || tick <= 0 || setLowWater(tcp, lowWater) != nil {
		return c
	}
	return &clockedConn{Conn: c, tcp: tcp, tick: tick, active: time.Now()}
}

// Read reads what has arrived, waiting when nothing has for the next tick,
// a burst of lowWater bytes, the end of the connection or the user's
// deadline, whichever comes first.
func (c *clockedConn) Read(p []byte) (int, error) {
	for {
		c.flushHeld()
		c.mu.Lock()
		err := c.tcp.SetReadDeadline(c.wake(time.Now()))
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		n, err := c.tcp.Read(p)
		if n > 0 {
			c.mu.Lock()
			c.active = time.Now()
			c.mu.Unlock()
			return n, err
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		c.mu.Lock()
		deadline := c.deadline
		c.mu.Unlock()
		if !deadline.IsZero() && !time.Now().Before(deadline) {
			return n, err
		}
	}
}

// Write writes p: a small write of a busy connection waits (see
// writeHold), anything else goes at once, after what waits. A
// quiet connection goes back to the fast tick at once, so that the answer
// to what it sends is not read at the idle tick.
func (c *clockedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.werr != nil {
		defer c.mu.Unlock()
		return 0, c.werr
	}
	now := time.Now()
	quiet := now.Sub(c.active) >= quietAfter
	c.active = now
	if !quiet && len(p) <= smallWrite && len(c.pending)+len(p) <= maxPending {
		if len(c.pending) == 0 {
			c.pendingSince = now
		}
		c.pending = append(c.pending, p...)
		c.mu.Unlock()
		return len(p), nil
	}
	if quiet {
		// A read waiting for the idle tick wakes at the fast one.
		_ = c.tcp.SetReadDeadline(c.wake(now))
	}
	c.mu.Unlock()

	c.wmu.Lock()
	defer c.wmu.Unlock()
	pending := c.takePending()
	if len(pending) == 0 {
		return c.tcp.Write(p)
	}
	bufs := net.Buffers{pending, p}
	n, err := bufs.WriteTo(c.tcp)
	c.wrote(pending, err)
	return max(0, int(n)-len(pending)), err
}

// flushHeld writes what waits if the first of it has waited writeHold.
func (c *clockedConn) flushHeld() {
	c.mu.Lock()
	held := len(c.pending) > 0 && time.Since(c.pendingSince) >= writeHold
	c.mu.Unlock()
	if held {
		c.flush()
	}
}

// flush writes what waits, unless another write is under way (it will).
func (c *clockedConn) flush() {
	c.mu.Lock()
	waiting := len(c.pending) > 0
	c.mu.Unlock()
	if !waiting || !c.wmu.TryLock() {
		return
	}
	defer c.wmu.Unlock()
	pending := c.takePending()
	if len(pending) > 0 {
		_, err := c.tcp.Write(pending)
		c.wrote(pending, err)
	}
}

// takePending returns what waits to be written, leaving nothing waiting.
// c.wmu must be held.
func (c *clockedConn) takePending() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}

// wrote notes the end of the write of pending, keeping its error for the
// writes to come and its buffer for the next small writes.
func (c *clockedConn) wrote(pending []byte, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil && c.werr == nil {
		c.werr = err
	}
	if c.pending == nil {
		c.pending = pending[:0]
	}
}

// Close sends what waits, unless a write is under way, and closes the
// connection.
func (c *clockedConn) Close() error {
	c.flush()
	return c.Conn.Close()
}

// SetDeadline sets the read and write deadlines.
func (c *clockedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.tcp.SetWriteDeadline(t)
}

// SetReadDeadline sets the deadline of reads; a read waiting for a tick
// wakes to take it into account.
func (c *clockedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.tcp.SetReadDeadline(time.Now())
}

// wake returns when a read starting at now waits until: the next tick, or
// the user's deadline if that comes first. c.mu must be held.
func (c *clockedConn) wake(now time.Time) time.Time {
	next := nextTick(now, c.active, c.tick)
	if !c.deadline.IsZero() && c.deadline.Before(next) {
		return c.deadline
	}
	return next
}

// nextTick returns the first tick after now of a connection last active at
// active: of length tick, or idleTick if that is longer and the connection
// has been quiet. Ticks fall on multiples of their length.
func nextTick(now, active time.Time, tick time.Duration) time.Time {
	if now.Sub(active) >= quietAfter {
		tick = max(tick, idleTick)
	}
	return now.Truncate(tick).Add(tick)
}
