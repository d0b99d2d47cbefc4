// Package openroutertest provides an HTTP server that speaks OpenRouter's
// chat-completions wire format, for end-to-end tests and benchmarks.
//
// The [Server] serves POST /api/v1/chat/completions (server-sent events when
// the request has "stream": true, one JSON document otherwise) and
// GET /api/v1/models, which lists each model's id, name, context length and
// pricing (US dollars per token, by default the simulator's list prices).
// Both require "Authorization: Bearer <key>".
//
// By default every model answers at once with the text [sim.Write] produces
// for the request, so rankings name exactly the labels of their prompt.
// A [Behavior] per model, a default one and an optional script give each
// request its latency, chunking and [Fault]: error statuses with
// OpenRouter-shaped bodies and rate-limit headers, hangs, connection resets,
// malformed JSON, empty content, mid-stream errors, trickling and truncated
// streams.
//
// A stream looks like OpenRouter's: a ": OPENROUTER PROCESSING" comment,
// content deltas, a chunk with the finish reason, a separate usage chunk
// (prompt_tokens, completion_tokens, total_tokens, cost) and "data: [DONE]",
// each flushed as it is written.
//
// The server records every chat-completions request and counts requests,
// in-flight requests and clients that went away early; all of it is safe
// to read while requests run.
package openroutertest
