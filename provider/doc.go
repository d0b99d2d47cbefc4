// Package provider defines the outbound LLM call: a typed chat-completion
// request and response, the [Completer] that performs one, the typed [*Error]
// every failure is classified into, and an interceptor chain shaped like
// gRPC's client interceptors.
//
// Cross-cutting concerns (deadlines, retries, rate limiting, tracing) are
// [Interceptor] values composed with [Chain]; adapters for concrete providers
// live in sub-packages (openrouter, sim).
package provider
