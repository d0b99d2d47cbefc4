package telemetry

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/outbound/event"
	"github.com/councilhq/council/provider"
)

// Calls instruments the outbound model calls. Its [Calls.Interceptor] is
// the outermost interceptor of the chain, and it is the [event.Observer]
// of the limiter's interceptors inside it, so that their retries, waits and
// cooldowns are counted as metrics whether or not the call is traced, and
// recorded as events on the call's span when it is. A Calls is safe for
// concurrent use.
type Calls struct {
	opts         options
	tracer       trace.Tracer
	inst         callInstruments
	providerAttr attribute.KeyValue
	// sets holds the [successSets] by successKey, nsets of them.
	sets  sync.Map
	nsets atomic.Int32
}

// NewCalls returns the instrumentation of model calls configured by opts.
func NewCalls(opts ...Option) *Calls {
	o := newOptions(opts)
	return &Calls{
		opts:         o,
		tracer:       o.tracerProvider.Tracer(InstrumentationName),
		inst:         newCallInstruments(o.meterProvider.Meter(InstrumentationName)),
		providerAttr: AttrProviderName.String(ProviderName),
	}
}

// GenAIInterceptor is NewCalls(opts...).Interceptor(): call spans and call
// metrics, for a chain with no limiter to observe.
func GenAIInterceptor(opts ...Option) provider.Interceptor {
	return NewCalls(opts...).Interceptor()
}

// Interceptor returns the outermost interceptor of the outbound chain.
// Each call through it is one CLIENT span named "chat {model}", a child of
// the span in ctx (the orchestrator's stage span), covering every retry and
// wait of the interceptors inside it. The span carries the GenAI request
// attributes, the council.* correlation attributes from the request's
// metadata, and, when the call ends, the response attributes (model, id,
// finish reason, token usage) or error.type with an error status whose
// description is the [*provider.Error]'s safe message.
//
// Every call records gen_ai.client.operation.duration, and on success
// gen_ai.client.token.usage; failures and retries are counted per model,
// and a call that fails rate limited counts as a rate-limited attempt.
func (c *Calls) Interceptor() provider.Interceptor {
	// The frame of this function stays on the goroutine's stack for the
	// whole call, under the HTTP/2 transport's deepest calls, so it keeps
	// only what crosses the call; the work before and after it is done in
	// functions of their own, whose frames are gone by then. A call's
	// goroutine then streams in 8 KiB of stack instead of 16.
	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		start := time.Now()
		ctx, span := c.startSpan(ctx, req)
		resp, err := next.Complete(ctx, req)
		c.finish(ctx, span, req, time.Since(start), resp, err)
		return resp, err
	}
}

// startSpan starts the span of a call.
func (c *Calls) startSpan(ctx context.Context, req *provider.Request) (context.Context, trace.Span) {
	ctx, span := c.tracer.Start(ctx, OperationChat+" "+req.Model,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(requestAttributes(req, c.providerAttr)...))
	if c.opts.captureContent && span.IsRecording() {
		span.SetAttributes(AttrInputMessages.String(inputMessagesJSON(req.Messages)))
	}
	return ctx, span
}

// finish records the outcome of a call that took elapsed and ends its span.
func (c *Calls) finish(ctx context.Context, span trace.Span, req *provider.Request, elapsed time.Duration, resp *provider.Response, err error) {
	if err != nil {
		c.failed(ctx, span, req, elapsed, provider.AsError(err))
	} else {
		c.succeeded(ctx, span, req, elapsed, resp)
	}
	span.End()
}

// succeeded records a successful call.
func (c *Calls) succeeded(ctx context.Context, span trace.Span, req *provider.Request, elapsed time.Duration, resp *provider.Response) {
	if span.IsRecording() {
		span.SetAttributes(responseAttributes(resp)...)
		if c.opts.captureContent {
			span.SetAttributes(AttrOutputMessages.String(outputMessagesJSON(resp)))
		}
	}
	sets := c.successSets(req.Model, resp.Model, req.Metadata[provider.MetaStage])
	c.inst.duration.Record(ctx, elapsed.Seconds(), sets.duration)
	if n := resp.Usage.InputTokens; n > 0 {
		c.inst.tokens.Record(ctx, n, sets.inputTokens)
	}
	if n := resp.Usage.OutputTokens; n > 0 {
		c.inst.tokens.Record(ctx, n, sets.outputTokens)
	}
	addRetries(ctx, c.inst, resp.Attempts, sets.byModel)
}

// failed records a failed call.
func (c *Calls) failed(ctx context.Context, span trace.Span, req *provider.Request, elapsed time.Duration, pe *provider.Error) {
	if span.IsRecording() {
		span.SetAttributes(errorAttributes(pe)...)
		span.SetStatus(codes.Error, pe.Error())
	}
	stage := req.Metadata[provider.MetaStage]
	errType := AttrErrorType.String(pe.Kind.String())
	c.inst.duration.Record(ctx, elapsed.Seconds(), metric.WithAttributes(
		AttrOperationName.String(OperationChat), c.providerAttr, AttrRequestModel.String(req.Model), errType))
	c.inst.failures.Add(ctx, 1, metric.WithAttributes(AttrRequestModel.String(req.Model), AttrStage.String(stage), errType))
	addRetries(ctx, c.inst, pe.Attempts, metric.WithAttributes(AttrRequestModel.String(req.Model), AttrStage.String(stage)))
	if pe.Kind == provider.KindRateLimited {
		c.inst.rateLimited.Add(ctx, 1, metric.WithAttributes(AttrRequestModel.String(req.Model)))
	}
}

// successSets are the metric attributes of the successful calls of a model
// at a stage that another (or the same) model answered. Building an
// attribute set sorts and hashes it, so they are built once and kept, up
// to maxSuccessSets of them: the answering model is the provider's word.
type successSets struct {
	duration, inputTokens, outputTokens, byModel metric.MeasurementOption
}

type successKey struct{ model, answered, stage string }

// maxSuccessSets bounds the kept [successSets]; past it they are built for
// each call.
const maxSuccessSets = 1024

// successSets returns the metric attributes of a successful call.
func (c *Calls) successSets(model, answered, stage string) *successSets {
	key := successKey{model, answered, stage}
	if v, ok := c.sets.Load(key); ok {
		return v.(*successSets)
	}
	common := []attribute.KeyValue{AttrOperationName.String(OperationChat), c.providerAttr, AttrRequestModel.String(model)}
	if answered != "" {
		common = append(common, AttrResponseModel.String(answered))
	}
	tokens := func(kind string) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(append(slices.Clip(common), AttrTokenType.String(kind))...))
	}
	sets := &successSets{
		duration:     metric.WithAttributeSet(attribute.NewSet(common...)),
		inputTokens:  tokens("input"),
		outputTokens: tokens("output"),
		byModel:      metric.WithAttributeSet(attribute.NewSet(AttrRequestModel.String(model), AttrStage.String(stage))),
	}
	if c.nsets.Load() < maxSuccessSets {
		if _, loaded := c.sets.LoadOrStore(key, sets); !loaded {
			c.nsets.Add(1)
		}
	}
	return sets
}

// requestAttributes are the span attributes known before the call.
func requestAttributes(req *provider.Request, providerAttr attribute.KeyValue) []attribute.KeyValue {
	// Room for every attribute below, so that the slice is allocated once.
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		AttrOperationName.String(OperationChat),
		providerAttr,
		AttrRequestModel.String(req.Model),
	)
	if req.MaxTokens > 0 {
		attrs = append(attrs, AttrRequestMaxTokens.Int(req.MaxTokens))
	}
	if req.Temperature != nil {
		attrs = append(attrs, AttrRequestTemperature.Float64(*req.Temperature))
	}
	for _, m := range []struct {
		meta string
		key  attribute.Key
	}{
		{provider.MetaConsultationID, AttrConsultationID},
		{provider.MetaTier, AttrTier},
		{provider.MetaStage, AttrStage},
	} {
		if v, ok := req.Metadata[m.meta]; ok {
			attrs = append(attrs, m.key.String(v))
		}
	}
	return attrs
}

// responseAttributes are the span attributes of a successful call.
func responseAttributes(resp *provider.Response) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 8)
	attrs = append(attrs,
		AttrUsageInputTokens.Int64(resp.Usage.InputTokens),
		AttrUsageOutputTokens.Int64(resp.Usage.OutputTokens),
		AttrAttempts.Int(attempts(resp.Attempts)),
	)
	if resp.Model != "" {
		attrs = append(attrs, AttrResponseModel.String(resp.Model))
	}
	if resp.ID != "" {
		attrs = append(attrs, AttrResponseID.String(resp.ID))
	}
	if resp.FinishReason != "" {
		attrs = append(attrs, AttrResponseFinishReasons.StringSlice([]string{resp.FinishReason}))
	}
	if resp.Usage.Cost > 0 {
		attrs = append(attrs, AttrCost.Float64(resp.Usage.Cost))
	}
	if resp.Waited > 0 {
		attrs = append(attrs, AttrWaited.Int64(resp.Waited.Milliseconds()))
	}
	return attrs
}

// errorAttributes are the span attributes of a failed call. They hold the
// kind and status only, never the upstream text in pe.Err.
func errorAttributes(pe *provider.Error) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		AttrErrorType.String(pe.Kind.String()),
		AttrAttempts.Int(attempts(pe.Attempts)),
	}
	if pe.StatusCode > 0 {
		attrs = append(attrs, AttrHTTPResponseStatusCode.Int(pe.StatusCode))
	}
	return attrs
}

// attempts turns the "zero means one" convention into a count.
func attempts(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// Observe records a limiter event: it counts retries that were rate limited,
// cooldowns started, retry stops by reason and waits by reason per model,
// and adds the event to the call's span when it is recording
// ([EventRetry], [EventRetryStop], [EventRateLimitWait], [EventCooldown],
// [EventCooldownStart], [EventRateLimitScope]), with its delay in council.delay_ms and its cause
// in error.type or council.reason.
func (c *Calls) Observe(ctx context.Context, e event.Event) {
	model := AttrRequestModel.String(e.Model)
	var name string
	attrs := []attribute.KeyValue{AttrDelay.Int64(e.Delay.Milliseconds())}
	switch e.Kind {
	case event.Retry:
		name = EventRetry
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrErrorType.String(e.Failure.String()))
		if e.Failure == provider.KindRateLimited {
			c.inst.rateLimited.Add(ctx, 1, metric.WithAttributes(model))
		}
	case event.RetryStop:
		name = EventRetryStop
		attrs = append(attrs, AttrAttempt.Int(e.Attempt), AttrReason.String(e.Reason))
		c.inst.retryStops.Add(ctx, 1, metric.WithAttributes(model, AttrReason.String(e.Reason)))
	case event.Wait:
		name = EventRateLimitWait
		attrs = append(attrs, AttrReason.String(e.Reason))
		c.inst.waits.Add(ctx, 1, metric.WithAttributes(model, AttrReason.String(e.Reason)))
	case event.Cooldown:
		name = EventCooldown
	case event.CooldownStart:
		name = EventCooldownStart
		c.inst.cooldowns.Add(ctx, 1, metric.WithAttributes(model))
	case event.Scope:
		name = EventRateLimitScope
		attrs = append(attrs, AttrScope.String(e.Scope))
	default:
		return
	}
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent(name, trace.WithAttributes(attrs...))
	}
}
