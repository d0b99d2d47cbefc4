package telemetry

import "go.opentelemetry.io/otel/attribute"

// The OpenTelemetry GenAI semantic conventions are still in development, so
// every attribute, span and metric name the package emits is declared here,
// in one place to update.

// InstrumentationName names the tracer and meter of this package.
const InstrumentationName = "github.com/councilhq/council/telemetry"

// GenAI semantic-convention attribute keys.
const (
	AttrOperationName          = attribute.Key("gen_ai.operation.name")
	AttrProviderName           = attribute.Key("gen_ai.provider.name")
	AttrRequestModel           = attribute.Key("gen_ai.request.model")
	AttrRequestMaxTokens       = attribute.Key("gen_ai.request.max_tokens")
	AttrRequestTemperature     = attribute.Key("gen_ai.request.temperature")
	AttrResponseModel          = attribute.Key("gen_ai.response.model")
	AttrResponseID             = attribute.Key("gen_ai.response.id")
	AttrResponseFinishReasons  = attribute.Key("gen_ai.response.finish_reasons")
	AttrUsageInputTokens       = attribute.Key("gen_ai.usage.input_tokens")
	AttrUsageOutputTokens      = attribute.Key("gen_ai.usage.output_tokens")
	AttrTokenType              = attribute.Key("gen_ai.token.type")
	AttrInputMessages          = attribute.Key("gen_ai.input.messages")
	AttrOutputMessages         = attribute.Key("gen_ai.output.messages")
	AttrErrorType              = attribute.Key("error.type")
	AttrHTTPResponseStatusCode = attribute.Key("http.response.status_code")
)

// Council attribute keys. The first three match the provider.Meta* request
// metadata keys and the orchestrator's stage-span attributes.
const (
	AttrConsultationID = attribute.Key("council.consultation_id")
	AttrTier           = attribute.Key("council.tier")
	AttrStage          = attribute.Key("council.stage")
	AttrAttempts       = attribute.Key("council.attempts")
	AttrWaited         = attribute.Key("council.waited_ms")
	AttrCost           = attribute.Key("council.usage.cost")
)

// Span event names: [Calls.Observe] adds them to the call's span. Each
// carries its delay as council.delay_ms ([AttrDelay]); a retry event
// carries the failed attempt's kind as error.type and its number as
// council.attempt ([AttrAttempt]), a retry stop and a wait their cause as
// council.reason ([AttrReason]).
const (
	EventRetry         = "council.retry"
	EventRetryStop     = "council.retry.stop"
	EventRateLimitWait = "council.ratelimit.wait"
	EventCooldown      = "council.cooldown"
	EventCooldownStart = "council.cooldown.start"
	// EventRateLimitScope marks an answer that changed the learned scope of
	// the budgets a provider key's models announce per model; it carries
	// the scope now in force as council.ratelimit.scope ([AttrScope]).
	EventRateLimitScope = "council.ratelimit.scope"
)

// Span event attributes.
const (
	// AttrReason is the short snake_case cause a span event carries.
	AttrReason = attribute.Key("council.reason")
	// AttrDelay is a span event's wait in milliseconds.
	AttrDelay = attribute.Key("council.delay_ms")
	// AttrAttempt is the 1-based attempt a retry event is about.
	AttrAttempt = attribute.Key("council.attempt")
	// AttrScope is a learned scope of rate-limit budgets: per_key or
	// per_model.
	AttrScope = attribute.Key("council.ratelimit.scope")
)

// OperationChat is the gen_ai.operation.name of a chat completion.
const OperationChat = "chat"

// ProviderName is the gen_ai.provider.name of call spans. OpenRouter has no
// well-known value.
const ProviderName = "openrouter"

// Metric names.
const (
	MetricOperationDuration = "gen_ai.client.operation.duration"
	MetricTokenUsage        = "gen_ai.client.token.usage"
	MetricModelFailures     = "council.model.failures"
	MetricModelRetries      = "council.model.retries"
	MetricModelRateLimited  = "council.model.rate_limited"
	MetricModelCooldowns    = "council.model.cooldowns"
	MetricModelRetryStops   = "council.model.retry_stops"
	MetricModelWaits        = "council.model.waits"
)

// operationDurationBuckets are the GenAI convention's advised boundaries for
// gen_ai.client.operation.duration, in seconds.
var operationDurationBuckets = []float64{0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92}

// tokenUsageBuckets are the GenAI convention's advised boundaries for
// gen_ai.client.token.usage.
var tokenUsageBuckets = []float64{1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864}
