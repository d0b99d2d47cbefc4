package retry

import (
	"math/rand/v2"
	"sync"
	"time"

	"github.com/councilhq/council/internal/clock"
	"github.com/councilhq/council/outbound/event"
)

// Option configures [New].
type Option func(*config)

type config struct {
	clock         clock.Clock
	observer      event.Observer
	maxRetries    int
	base, max     time.Duration
	maxRetryAfter time.Duration
	budgetRatio   float64
	budgetFloor   int
	budgetWindow  time.Duration
	jitter        func() float64
}

func defaultConfig() config {
	return config{
		clock:         clock.System(),
		observer:      event.Discard,
		maxRetries:    DefaultMaxRetries,
		base:          DefaultBaseDelay,
		max:           DefaultMaxDelay,
		maxRetryAfter: DefaultMaxRetryAfter,
		budgetRatio:   DefaultBudgetRatio,
		budgetFloor:   DefaultBudgetFloor,
		budgetWindow:  DefaultBudgetWindow,
		jitter:        rand.Float64,
	}
}

// Defaults of the options.
const (
	// DefaultMaxRetries is the number of retries after the first attempt.
	DefaultMaxRetries = 5
	// DefaultBaseDelay is the backoff before the first retry; it doubles
	// for each further retry.
	DefaultBaseDelay = time.Second
	// DefaultMaxDelay caps a backoff step (before jitter).
	DefaultMaxDelay = 30 * time.Second
	// DefaultMaxRetryAfter is the longest Retry-After that is waited for;
	// a provider asking for more is not retried.
	DefaultMaxRetryAfter = time.Minute
	// DefaultBudgetRatio, DefaultBudgetFloor and DefaultBudgetWindow are
	// the retry budget: over the last 10 s, a key's retries may number half
	// its calls or 10, whichever is more, so a failure storm cannot take
	// upstream traffic past 1.5 times the calls made (once it passes 20
	// calls) while a quiet key keeps every retry.
	DefaultBudgetRatio  = 0.5
	DefaultBudgetFloor  = 10
	DefaultBudgetWindow = 10 * time.Second
)

// WithClock sets the clock the backoff waits on. Default: [clock.System].
// A nil clock is ignored.
func WithClock(clk clock.Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithObserver sets the [event.Observer] told of every retry and of every
// retryable failure that is not retried. Default: none. A nil observer is
// ignored.
func WithObserver(o event.Observer) Option {
	return func(c *config) {
		if o != nil {
			c.observer = o
		}
	}
}

// WithMaxRetries sets how many times a call is retried after its first
// attempt. Zero disables retries; a negative n is ignored. Default
// [DefaultMaxRetries].
func WithMaxRetries(n int) Option {
	return func(c *config) {
		if n >= 0 {
			c.maxRetries = n
		}
	}
}

// WithBackoff sets the backoff: base before the first retry, doubling for
// each further one, each step capped at ceiling and then lengthened by a
// jitter of up to half of it. Defaults [DefaultBaseDelay] and
// [DefaultMaxDelay]; a value of zero or less keeps its default.
func WithBackoff(base, ceiling time.Duration) Option {
	return func(c *config) {
		if base > 0 {
			c.base = base
		}
		if ceiling > 0 {
			c.max = ceiling
		}
		c.max = max(c.max, c.base)
	}
}

// WithBudget sets the retry budget per model: over a sliding window,
// retries may number at most ratio times the calls made, or floor,
// whichever is more. A ratio of zero or less disables the budget; a
// negative floor or a window of zero or less keeps its default. Defaults
// [DefaultBudgetRatio], [DefaultBudgetFloor] and [DefaultBudgetWindow].
func WithBudget(ratio float64, floor int, window time.Duration) Option {
	return func(c *config) {
		c.budgetRatio = ratio
		if floor >= 0 {
			c.budgetFloor = floor
		}
		if window > 0 {
			c.budgetWindow = window
		}
	}
}

// WithJitterSource sets the random source of the backoff jitter, so that a
// test can seed it. Default: the math/rand/v2 global source. A nil source is
// ignored.
func WithJitterSource(src rand.Source) Option {
	return func(c *config) {
		if src == nil {
			return
		}
		var mu sync.Mutex
		r := rand.New(src)
		c.jitter = func() float64 {
			mu.Lock()
			defer mu.Unlock()
			return r.Float64()
		}
	}
}
