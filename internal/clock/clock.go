// Package clock is the time source of the outbound chain's waits: rate-limit
// waits, backoff between retries and cooldowns. The service uses [System];
// tests whose calls cross real sockets, where testing/synctest cannot fake
// time, inject the fake clock of package limitertest.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes the timers behind every wait.
// Implementations must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once, d from now; a d of zero or
	// less fires at once.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a [Clock].
type Timer interface {
	// C delivers the time when the timer fires.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// System returns the real clock, backed by the time package.
func System() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }

// Sleep waits d on clk. It returns ctx's error if ctx ends first and nil
// otherwise; a d of zero or less returns at once without making a timer.
func Sleep(ctx context.Context, clk Clock, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := clk.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
