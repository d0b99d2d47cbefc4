// Package openrouter is a [provider.Completer] and [provider.ModelLister] for
// OpenRouter's OpenAI-compatible chat-completions API. Any server that speaks
// the same wire format works by pointing [Config.BaseURL] at it.
//
// Every completion is requested with "stream": true and a max_tokens cap,
// which keeps OpenRouter's in-flight budget estimate small when a council fans
// out many calls at once. The server-sent event stream is decoded as it
// arrives: each content delta is passed to [provider.Request.OnDelta], the
// final usage chunk is read as accounting, and keep-alive comments such as
// ": OPENROUTER PROCESSING" are skipped. A server that ignores streaming and
// answers with a plain JSON completion is accepted too.
//
// Every failure is a [*provider.Error] classified by what the caller should
// do about it: HTTP statuses and OpenRouter, OpenAI and Anthropic error
// bodies map to kinds such as [provider.KindRateLimited] or
// [provider.KindQuota], Retry-After hints (the retry-after-ms variants,
// Retry-After, and the google.rpc.RetryInfo detail Gemini sends in the body,
// also inside OpenRouter's error.metadata.raw; the longest wins) become
// [provider.Error.RetryAfter],
// and rate-limit headers (including those OpenRouter copies into the error
// body) are kept in [provider.Error.Header]. Upstream error text is kept only
// in [provider.Error.Err], and the API key never appears in any error.
//
// A [Client] does no retrying, rate limiting or timeouts of its own; compose
// those around it with [provider.Chain]. It shares one pooled [*http.Client],
// ideally built on [NewRoundTripper] over [NewTransport].
package openrouter
