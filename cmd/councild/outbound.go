package main

import (
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/telemetry"
)

// outbound builds the completer every model call goes through: the
// provider's client wrapped by the outbound interceptor chain, listed
// outermost first:
//
//   - hedging, when hedge names backups: a call slower than its model's
//     observed p90 is also sent to the backup, each with its own span,
//     retries and limiter slot, and the first answer wins;
//   - telemetry: one "chat {model}" span covers a call's every retry and wait;
//   - retry: exponential backoff with jitter, Retry-After, a retry budget;
//   - limiter: adaptive rate limits from the provider's headers, the
//     in-flight cap and per-model cooldowns; every attempt passes it.
//
// The per-stage call timeouts are applied by the orchestrator around this
// chain, so waits and retries count against them.
func outbound(client provider.Completer, tel telemetry.Providers, captureContent bool, maxInFlight int, hedge map[string]string) provider.Completer {
	var hedger provider.Interceptor
	if len(hedge) > 0 {
		hedger = provider.NewHedger(provider.HedgeConfig{Backups: hedge}).Interceptor()
	}
	return provider.Chain(client,
		hedger,
		telemetry.GenAIInterceptor(
			telemetry.WithTracerProvider(tel.TracerProvider),
			telemetry.WithMeterProvider(tel.MeterProvider),
			telemetry.WithContentCapture(captureContent)),
		limiter.Retry(),
		limiter.New(limiter.WithMaxInFlight(maxInFlight)).Interceptor(),
	)
}
