// Package outbound assembles the interceptor chain every model call goes
// through, so the server binary, the soak test and the benchmarks all call
// models the same way.
package outbound

import (
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/hedge"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/telemetry"
)

// Config holds the chain's settings.
type Config struct {
	// Telemetry holds the tracer and meter providers; the zero value
	// records nothing.
	Telemetry telemetry.Providers
	// CaptureContent records prompts and answers on call spans. Default off.
	CaptureContent bool
	// MaxInFlight caps the calls in flight per provider key. Zero means
	// [limiter.DefaultMaxInFlight].
	MaxInFlight int
	// Hedge maps a model to the backup that a slow call to it is hedged
	// with. Empty means no hedging.
	Hedge map[string]string
	// Budgets, when set, is where the limiter keeps the provider budgets,
	// the cooldowns and the in-flight cap it shares with other replicas
	// (see [limiter.Store]). Nil keeps them in memory.
	Budgets limiter.Store
}

// New wraps client in the outbound chain, outermost first:
//
//   - hedging, when Hedge names backups: a call slower than the earlier of
//     its model's observed p90 and twice the median answer time of its
//     consultation's stage is also sent to the backup, each with its own
//     span, retries and limiter slot, and the first answer wins;
//   - telemetry: one "chat {model}" span covers a call's every retry and
//     wait; the retry and limiter interceptors report their events to it
//     ([limiter.Observer]), so they are counted with tracing off too;
//   - retry: exponential backoff with jitter, Retry-After, a retry budget;
//   - limiter: adaptive rate limits from the provider's headers, the
//     in-flight cap and per-model cooldowns, shared with the other
//     replicas through Budgets when set; every attempt passes it.
//
// The per-stage call timeouts are applied by the orchestrator around this
// chain, so waits and retries count against them.
func New(client provider.Completer, cfg Config) provider.Completer {
	var hedger provider.Interceptor
	if len(cfg.Hedge) > 0 {
		hedger = hedge.New(hedge.Config{Backups: cfg.Hedge}).Interceptor()
	}
	calls := telemetry.NewCalls(
		telemetry.WithTracerProvider(cfg.Telemetry.TracerProvider),
		telemetry.WithMeterProvider(cfg.Telemetry.MeterProvider),
		telemetry.WithContentCapture(cfg.CaptureContent))
	limits := []limiter.Option{limiter.WithStore(cfg.Budgets), limiter.WithObserver(calls)}
	if cfg.MaxInFlight > 0 {
		limits = append(limits, limiter.WithMaxInFlight(cfg.MaxInFlight))
	}
	return provider.Chain(client,
		hedger,
		calls.Interceptor(),
		limiter.Retry(limiter.WithObserver(calls)),
		limiter.New(limits...).Interceptor(),
	)
}
