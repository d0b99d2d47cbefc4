package limiter

import (
	"github.com/councilhq/council/internal/clock"
	"github.com/councilhq/council/outbound/event"
)

// Option configures a [Limiter].
type Option func(*config)

type config struct {
	clock       clock.Clock
	key         KeyFunc
	observer    event.Observer
	maxInFlight int
	cooldown    CooldownRule
	store       Store
}

func defaultConfig() config {
	return config{
		clock:       clock.System(),
		key:         ByProviderModel,
		observer:    event.Discard,
		maxInFlight: DefaultMaxInFlight,
		cooldown:    DefaultCooldownRule,
	}
}

// DefaultMaxInFlight is the in-flight cap per provider key.
const DefaultMaxInFlight = 16

// WithClock sets the clock every wait uses. Default: [clock.System]. A nil
// clock is ignored.
func WithClock(clk clock.Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithKey sets how calls are grouped by model: the per-model budget
// (OpenAI's and Anthropic's limits, Retry-After) and the cooldown are kept
// per key. Default: [ByProviderModel]. A nil function is ignored.
func WithKey(f KeyFunc) Option {
	return func(c *config) {
		if f != nil {
			c.key = f
		}
	}
}

// WithObserver sets the [event.Observer] told of every wait, cooldown and
// scope change. Default: none. A nil observer is ignored.
func WithObserver(o event.Observer) Option {
	return func(c *config) {
		if o != nil {
			c.observer = o
		}
	}
}

// WithMaxInFlight caps the calls in flight per provider key; the calls
// beyond it queue in arrival order. Zero or less removes the cap. Default
// [DefaultMaxInFlight].
func WithMaxInFlight(n int) Option {
	return func(c *config) { c.maxInFlight = n }
}

// WithCooldown sets when a model key cools down and for how long (see
// [CooldownRule]). A MinCalls of zero or less disables cooldowns; a
// FailureRatio outside (0, 1] is taken as 0.5, and a Window, Base or Max of
// zero or less keeps the one of [DefaultCooldownRule]. Default
// [DefaultCooldownRule].
func WithCooldown(rule CooldownRule) Option {
	return func(c *config) {
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
	}
}
