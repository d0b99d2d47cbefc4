package limitertest

import (
	"slices"
	"sync"
	"time"

	"github.com/councilhq/council/internal/clock"
)

// Clock is a fake [clock.Clock] for simulations whose calls cross real
// sockets (HTTP fake upstreams, Redis), where testing/synctest cannot fake
// time because a goroutine blocked on the network is not durably blocked;
// tests that run in process use synctest instead. Time moves only when
// every actor started with [Clock.Go] is blocked on one of its timers: the
// clock then jumps to the earliest timer and fires it. A simulation
// therefore runs as fast as the code allows while every wait lasts exactly
// as long as it asks, in fake time. It is safe for concurrent use.
type Clock struct {
	mu      sync.Mutex
	now     time.Time
	pending []*timer
	actors  int
	wg      sync.WaitGroup
}

var _ clock.Clock = (*Clock)(nil)

// NewClock returns a Clock set to start.
func NewClock(start time.Time) *Clock {
	return &Clock{now: start}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer that fires when the clock reaches Now()+d; a d
// of zero or less fires at once.
func (c *Clock) NewTimer(d time.Duration) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, when: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.ch <- c.now
		return t
	}
	c.pending = append(c.pending, t)
	c.simulate()
	return t
}

// Go runs f on a new goroutine as an actor of a simulation. While at least
// one actor runs and every running actor waits on a timer of the clock, the
// clock jumps to the earliest timer. An actor must use the clock for every
// wait that time ends; it may also wait for another actor (a lock, a
// channel), which holds the clock still until that actor moves.
func (c *Clock) Go(f func()) {
	c.mu.Lock()
	c.actors++
	c.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() {
			c.mu.Lock()
			c.actors--
			c.simulate()
			c.mu.Unlock()
		}()
		f()
	}()
}

// Wait blocks until every actor started with Go has returned.
func (c *Clock) Wait() { c.wg.Wait() }

// simulate fires the earliest timers when every actor waits on one.
func (c *Clock) simulate() {
	if c.actors > 0 && len(c.pending) >= c.actors {
		c.fireAt(c.earliest().when)
	}
}

// earliest returns the pending timer that fires first, or nil.
func (c *Clock) earliest() *timer {
	var first *timer
	for _, t := range c.pending {
		if first == nil || t.when.Before(first.when) {
			first = t
		}
	}
	return first
}

// fireAt sets the clock to when and fires every timer due by then.
func (c *Clock) fireAt(when time.Time) {
	c.now = later(c.now, when)
	c.pending = slices.DeleteFunc(c.pending, func(t *timer) bool {
		if t.when.After(c.now) {
			return false
		}
		t.ch <- c.now
		return true
	})
}

type timer struct {
	c    *Clock
	when time.Time
	ch   chan time.Time
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	c := t.c
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(c.pending)
	c.pending = slices.DeleteFunc(c.pending, func(p *timer) bool { return p == t })
	if len(c.pending) == n {
		return false
	}
	return true
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
