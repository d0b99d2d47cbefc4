// Package outbound is what happens to one model call between the
// orchestrator and the provider's adapter. New assembles the chain that the
// server binary, the soak test and the benchmarks all call models through;
// each link is a [provider.Interceptor] in its own package:
//
//	orchestrator
//	  │  deadline   the stage's time limit for the whole call (package deadline;
//	  │             applied by the orchestrator, which knows the stage)
//	  ▼
//	hedge           a slow call is also sent to a backup model; the first
//	  │             answer wins (package hedge; only with Config.Hedge)
//	telemetry       one "chat {model}" span and the GenAI metrics per call,
//	  │             and the events of the links below (telemetry.Calls)
//	retry           backoff with jitter, Retry-After, a retry budget
//	  │             (package retry); reports to package event's Observer
//	limiter         every attempt: the provider's announced budgets, the
//	  │             in-flight cap and the model's cooldown (package limiter);
//	  │             shared with other replicas through Config.Budgets
//	  ▼
//	adapter         the provider's wire format (provider/openrouter): typed
//	                rate limits and errors, never HTTP above it
//
// One time limit bounds a call: the stage's, applied by the orchestrator
// around the whole chain, so that rate-limit waits, backoffs and retries
// all count against it. There is no separate limit per attempt: a retry
// whose backoff would end past the limit is not started (the retry link
// checks the deadline before every wait), and a limiter wait that would end
// after it is refused at once.
//
// The cooldown lives in the limiter because it is an admission decision
// taken with the budgets: one admission per attempt, kept per model key
// and, with Budgets, shared through one store round trip.
package outbound

import (
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/hedge"
	"github.com/councilhq/council/outbound/retry"
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

// New wraps client in the outbound chain, outermost first: hedge,
// telemetry, retry, limiter (see the package documentation).
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
		retry.New(retry.WithObserver(calls)),
		limiter.New(limits...).Interceptor(),
	)
}
