// Package limitertest provides what tests and benchmarks of the limiter
// need: a fake [Clock] that tests drive by hand or let run a simulation,
// an [Upstream] that enforces a request rate in the wire dialect of
// OpenRouter, OpenAI or Anthropic, and a [Recorder] that counts what a
// client sent and received.
package limitertest
