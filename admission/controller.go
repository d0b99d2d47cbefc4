package admission

import (
	"context"
	"sync"
	"time"
)

// Defaults of a [Controller]'s measurement.
const (
	// DefaultWindow is how often the limit is updated.
	DefaultWindow = 250 * time.Millisecond
	// delayQuantile is the quantile of the scheduler latencies a window
	// reports: high enough to see queueing that a minority of work
	// suffers, low enough not to follow a single stalled goroutine.
	delayQuantile = 0.99
)

// Controller admits consultations up to an adaptive [Limit] fed from the
// Go scheduler's latency. It is safe for concurrent use.
type Controller struct {
	window time.Duration

	mu       sync.Mutex
	limit    *Limit
	inFlight int
	peak     int
}

// NewController returns a Controller with the limit configured by cfg
// that updates every window (default [DefaultWindow]) once [Controller.Run]
// runs.
func NewController(cfg Config, window time.Duration) (*Controller, error) {
	l, err := NewLimit(cfg)
	if err != nil {
		return nil, err
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return &Controller{window: window, limit: l}, nil
}

// Acquire admits one consultation if fewer than the limit run, and reports
// whether it did. An admitted consultation must be released.
func (c *Controller) Acquire() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.inFlight >= c.limit.Current() {
		return false
	}
	c.inFlight++
	c.peak = max(c.peak, c.inFlight)
	return true
}

// Release ends an admitted consultation.
func (c *Controller) Release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
}

// Limit is the number of consultations that may run at once now.
func (c *Controller) Limit() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.limit.Current()
}

// InFlight is the number of consultations running now.
func (c *Controller) InFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inFlight
}

// Run updates the limit every window from the scheduler latency of the
// past window until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	sched := NewSchedDelay()
	tick := time.NewTicker(c.window)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.Observe(sched.Next(delayQuantile))
		}
	}
}

// Observe ends a window whose added delay was delay: it updates the limit
// with the window's peak of consultations in flight and starts the next
// window. Run calls it; tests may call it directly.
func (c *Controller) Observe(delay time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.limit.Update(Sample{Delay: delay, InFlight: c.peak})
	c.peak = c.inFlight
}
