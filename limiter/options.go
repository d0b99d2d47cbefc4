package limiter

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Option configures a [Limiter].
type Option interface{ applyLimiter(*config) }

// RetryOption configures [Retry].
type RetryOption interface{ applyRetry(*retryConfig) }

// SharedOption configures both a [Limiter] and [Retry].
type SharedOption interface {
	Option
	RetryOption
}

// common holds the settings of both interceptors.
type common struct {
	clock    Clock
	key      KeyFunc
	observer Observer
}

func defaultCommon() common {
	return common{clock: SystemClock(), key: ByProviderModel, observer: nopObserver{}}
}

type config struct {
	common
	providerKey KeyFunc
	maxInFlight int
	cooldown    CooldownRule
	store       Store
}

func defaultConfig() config {
	return config{
		common:      defaultCommon(),
		providerKey: ByProvider,
		maxInFlight: DefaultMaxInFlight,
		cooldown:    DefaultCooldownRule,
	}
}

type retryConfig struct {
	common
	maxRetries    int
	base, max     time.Duration
	maxRetryAfter time.Duration
	budgetRatio   float64
	budgetFloor   int
	budgetWindow  time.Duration
	jitter        func() float64
}

func defaultRetryConfig() retryConfig {
	return retryConfig{
		common:        defaultCommon(),
		maxRetries:    DefaultMaxRetries,
		base:          DefaultBaseDelay,
		max:           DefaultMaxDelay,
		maxRetryAfter: DefaultMaxRetryAfter,
		budgetRatio:   DefaultRetryBudgetRatio,
		budgetFloor:   DefaultRetryBudgetFloor,
		budgetWindow:  DefaultRetryBudgetWindow,
		jitter:        rand.Float64,
	}
}

// Defaults of the options.
const (
	// DefaultMaxInFlight is the in-flight cap per provider key.
	DefaultMaxInFlight = 16
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
	// DefaultRetryBudgetRatio, DefaultRetryBudgetFloor and
	// DefaultRetryBudgetWindow are the retry budget: over the last 10 s, a
	// key's retries may number half its calls or 10, whichever is more, so
	// a failure storm cannot take upstream traffic past 1.5 times the calls
	// made (once it passes 20 calls) while a quiet key keeps every retry.
	DefaultRetryBudgetRatio  = 0.5
	DefaultRetryBudgetFloor  = 10
	DefaultRetryBudgetWindow = 10 * time.Second
)

type sharedOption func(*common)

func (f sharedOption) applyLimiter(c *config)    { f(&c.common) }
func (f sharedOption) applyRetry(c *retryConfig) { f(&c.common) }

type limiterOption func(*config)

func (f limiterOption) applyLimiter(c *config) { f(c) }

type retryOption func(*retryConfig)

func (f retryOption) applyRetry(c *retryConfig) { f(c) }

// WithClock sets the clock every wait uses. Default: [SystemClock]. A nil
// clock is ignored.
func WithClock(clk Clock) SharedOption {
	return sharedOption(func(c *common) {
		if clk != nil {
			c.clock = clk
		}
	})
}

// WithKey sets how calls are grouped by model: a [Limiter] keeps the
// per-model budget (OpenAI's and Anthropic's limits, Retry-After) and the
// cooldown per key, [Retry] the retry budget. Default: [ByProviderModel].
// A nil function is ignored.
func WithKey(f KeyFunc) SharedOption {
	return sharedOption(func(c *common) {
		if f != nil {
			c.key = f
		}
	})
}

// WithObserver sets the [Observer] told of every retry, retry stop, wait
// and cooldown. Default: none. A nil observer is ignored.
func WithObserver(o Observer) SharedOption {
	return sharedOption(func(c *common) {
		if o != nil {
			c.observer = o
		}
	})
}

// WithProviderKey sets how calls are grouped by provider credential: a
// [Limiter] keeps the shared budget (OpenRouter's limits per key) and the
// in-flight cap per key. Default: [ByProvider]. A nil function is ignored.
func WithProviderKey(f KeyFunc) Option {
	return limiterOption(func(c *config) {
		if f != nil {
			c.providerKey = f
		}
	})
}

// WithMaxInFlight caps the calls in flight per provider key; the calls
// beyond it queue in arrival order. Zero or less removes the cap. Default
// [DefaultMaxInFlight].
func WithMaxInFlight(n int) Option {
	return limiterOption(func(c *config) { c.maxInFlight = n })
}

// WithCooldown sets when a model key cools down and for how long (see
// [CooldownRule]). A MinCalls of zero or less disables cooldowns; a
// FailureRatio outside (0, 1] is taken as 0.5, and a Window, Base or Max of
// zero or less keeps the one of [DefaultCooldownRule]. Default
// [DefaultCooldownRule].
func WithCooldown(rule CooldownRule) Option {
	return limiterOption(func(c *config) {
		d := DefaultCooldownRule
		if rule.FailureRatio <= 0 || rule.FailureRatio > 1 {
			rule.FailureRatio = d.FailureRatio
		}
		if rule.Window <= 0 {
			rule.Window = d.Window
		}
		if rule.Base <= 0 {
			rule.Base = d.Base
		}
		if rule.Max <= 0 {
			rule.Max = d.Max
		}
		rule.Max = max(rule.Max, rule.Base)
		c.cooldown = rule
	})
}

// WithMaxRetries sets how many times a call is retried after its first
// attempt. Zero disables retries; a negative n is ignored. Default
// [DefaultMaxRetries].
func WithMaxRetries(n int) RetryOption {
	return retryOption(func(c *retryConfig) {
		if n >= 0 {
			c.maxRetries = n
		}
	})
}

// WithBackoff sets the backoff: base before the first retry, doubling for
// each further one, each step capped at ceiling and then lengthened by a
// jitter of up to half of it. Defaults [DefaultBaseDelay] and
// [DefaultMaxDelay]; a value of zero or less keeps its default.
func WithBackoff(base, ceiling time.Duration) RetryOption {
	return retryOption(func(c *retryConfig) {
		if base > 0 {
			c.base = base
		}
		if ceiling > 0 {
			c.max = ceiling
		}
		c.max = max(c.max, c.base)
	})
}

// WithRetryBudget sets the retry budget per key: over a sliding window,
// retries may number at most ratio times the calls made, or floor,
// whichever is more. A ratio of zero or less disables the budget; a
// negative floor or a window of zero or less keeps its default. Defaults
// [DefaultRetryBudgetRatio], [DefaultRetryBudgetFloor] and
// [DefaultRetryBudgetWindow].
func WithRetryBudget(ratio float64, floor int, window time.Duration) RetryOption {
	return retryOption(func(c *retryConfig) {
		c.budgetRatio = ratio
		if floor >= 0 {
			c.budgetFloor = floor
		}
		if window > 0 {
			c.budgetWindow = window
		}
	})
}

// WithJitterSource sets the random source of the backoff jitter, so that a
// test can seed it. Default: the math/rand/v2 global source. A nil source is
// ignored.
func WithJitterSource(src rand.Source) RetryOption {
	return retryOption(func(c *retryConfig) {
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
	})
}
