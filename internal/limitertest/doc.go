// Package limitertest provides what tests and benchmarks of the limiter
// need across real sockets: a fake [Clock] that runs a simulation,
// an [Upstream] that enforces a request rate in the wire dialect of
// OpenRouter, OpenAI or Anthropic, and a [Recorder] that counts what a
// client sent and received.
package limitertest
