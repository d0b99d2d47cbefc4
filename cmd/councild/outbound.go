package main

import (
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/telemetry"
)

// outbound builds the completer every model call goes through: the
// provider's client wrapped by the outbound interceptor chain, listed
// outermost first. Telemetry is outermost so that one "chat {model}" span
// covers a call's every retry and wait. The per-stage call timeouts are
// applied by the orchestrator inside this chain.
func outbound(client provider.Completer, tel telemetry.Providers, captureContent bool) provider.Completer {
	return provider.Chain(client,
		telemetry.GenAIInterceptor(
			telemetry.WithTracerProvider(tel.TracerProvider),
			telemetry.WithMeterProvider(tel.MeterProvider),
			telemetry.WithContentCapture(captureContent)),
	)
}
