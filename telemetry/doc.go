// Package telemetry instruments the council with OpenTelemetry.
//
// # Setup
//
// [Setup] builds the tracer and meter providers from a [Config] and the
// standard OTEL_* variables, which the OpenTelemetry SDK and autoexport
// read: spans and metrics go to an OTLP collector (gRPC, or http/protobuf
// with OTEL_EXPORTER_OTLP_PROTOCOL) when an endpoint is set, metrics are
// also served in the Prometheus text format when [Config.Prometheus] is
// set, and everything is a free no-op otherwise. The returned shutdown function flushes and stops
// what was started.
//
// # Traces
//
// A consultation is one trace. Its root is the gRPC server span (otelgrpc);
// under it the orchestrator opens one span per stage (council.collect,
// council.review, council.synthesize), and under each stage
// [Calls.Interceptor] opens one CLIENT span "chat {model}" per upstream call,
// covering all of that call's retries. The call span carries the OpenTelemetry
// GenAI semantic-convention attributes and
// the council.* correlation attributes. The retry and limiter interceptors
// inside it report retries, rate-limit waits and cooldowns to [Calls.Observe]
// (a event.Observer), which adds them to the call span as span events.
// Prompts and answers are recorded only with [WithContentCapture].
//
// # Metrics
//
// [Calls] records gen_ai.client.operation.duration,
// gen_ai.client.token.usage and the per-model failure, retry, rate-limit,
// cooldown, retry-stop and wait counters, the last four from the limiter's
// events, so they count with tracing off too; [ObserveAdmission] reports the admission limit and the
// consultations in flight. The consultation and stage duration histograms
// are the performance monitor's (package monitor).
package telemetry
