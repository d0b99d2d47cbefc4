// Package limiter makes outbound LLM calls use a provider's budget fully
// without hammering it. [Limiter.Interceptor] is the innermost link of the
// outbound chain (see package outbound): it times every attempt by the
// provider's own rate-limit signals, which the provider's adapter reads
// from the wire into typed values ([provider.RateLimits] on every response
// and error, [provider.Error.RetryAfter] for Retry-After and Gemini's
// RetryInfo), cools down a model that keeps failing, and caps the calls in
// flight per provider. Package retry sits outside it, so that every
// attempt pays its share of the budget, and the stage's time limit outside
// both, so that it bounds the whole call, its waits and retries included.
//
// # Scope of the budgets announced per model
//
// OpenAI and Anthropic announce each model's budget, and OpenAI meters each
// model on its own, but many OpenAI-compatible proxies and deployments
// enforce one budget per API key while sending the same headers. The
// [Limiter] keeps those budgets per model until the evidence says the
// key's models share one:
//
//   - a model's announced requests left fall below the least its own calls
//     can have left of the window: an earlier announcement less what its
//     other calls may have taken since (those in flight and those answered
//     after that call was sent), less every call admitted since, or the
//     limit less the calls in flight when the window opened; a refused
//     call gives back what it was counted for, and so does one whose
//     answer shows it spent the window before. In the first window a
//     model's budget learns, which may hold every call it made, the
//     shortfall must also be one the key's calls can explain, so that what
//     an earlier process left spent does not count; or
//   - a 429 that announces nothing arrives while the model's own calls had
//     left room in its window.
//
// From then on every call of the key also takes from one pooled budget,
// started from the announcement that revealed it less what the key's
// other calls may have taken since, and fed by every answer; the
// per-model budgets are kept beside it, and Retry-After holds calls back
// only when the answer announces no reset (the pool follows the announced
// reset). The key goes back to budgets per model when two successes of
// different models announce the same requests left in the same window (one
// budget that every admitted request spends cannot), and budgets running
// out sooner are not taken for a shared limit again before that window
// ends, so that other clients of the same key spending a model's budget do
// not make the scope flap. Only requests are compared: token counts are
// estimates. Each change is reported to the [event.Observer] as an [event.Scope].
// With a [Store], the calls the learned scope pools take from the store's
// pooled budget too ([StoreCall.Pooled]), and the store keeps the scope
// each answer teaches ([Settlement.Scope]), so that every Limiter sharing
// it pools the key's calls.
//
// Several replicas that spend one provider key share what their Limiters
// learn through a [Store] ([WithStore]; package redisbudget keeps it in
// Redis): a call is then admitted against the budgets, pauses, cooldowns
// and in-flight cap of every replica, and a Limiter whose store fails
// admits calls from its own state until the store answers again.
//
// Nothing here sleeps for a fixed time: with no limit in play a call is not
// delayed at all, and every wait is for a time a provider announced or for
// a backoff after a failure. All waits go through an injectable clock
// ([WithClock]).
//
// Every wait and cooldown is visible: the time held back is carried in
// [provider.Response.Waited] and [provider.Error.Waited], and each is
// reported as it happens to the [event.Observer] given with [WithObserver]
// ([event.Wait], [event.Cooldown], [event.CooldownStart], [event.Scope]),
// which telemetry turns into metrics and span events. Events never hold
// upstream text.
package limiter
