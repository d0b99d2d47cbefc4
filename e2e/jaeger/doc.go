// Package jaeger holds the end-to-end tracing test, built only with the
// "jaeger" build tag: it starts Jaeger all-in-one on loopback, runs one
// consultation through the real server, orchestrator and simulated
// provider with telemetry exported over OTLP, and checks through Jaeger's
// HTTP query API that the consultation is one correctly shaped trace.
//
// Run it with scripts/jaeger-e2e.sh, which builds Jaeger from the tools/jaeger
// module and sets JAEGER_BIN and JAEGER_CONFIG.
package jaeger
