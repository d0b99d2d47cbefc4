package telemetry

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/provider"
)

// GenAIInterceptor returns the outermost interceptor of the outbound chain.
// Each call through it is one CLIENT span named "chat {model}", a child of
// the span in ctx (the orchestrator's stage span), covering every retry and
// wait of the interceptors inside it. The span carries the GenAI request
// attributes, the council.* correlation attributes from the request's
// metadata, and, when the call ends, the response attributes (model, id,
// finish reason, token usage) or error.type with an error status whose
// description is the [*provider.Error]'s safe message.
//
// Interceptors inside it add span events on trace.SpanFromContext(ctx):
// [EventRetry] for each failed attempt that is retried (with the attempt's
// kind as error.type), [EventRetryStop], [EventRateLimitWait],
// [EventCooldown] and [EventCooldownStart]. The span in ctx counts the
// events, and reports itself as recording so that interceptors add them,
// even when tracing is off; the events reach the trace only when it is on.
//
// Every call records gen_ai.client.operation.duration, and on success
// gen_ai.client.token.usage; failures, retries, rate-limited attempts,
// cooldowns started, retry stops by reason and waits by reason are counted
// per model. The returned interceptor is safe for concurrent use.
func GenAIInterceptor(opts ...Option) provider.Interceptor {
	o := newOptions(opts)
	tracer := o.tracerProvider.Tracer(InstrumentationName)
	inst := newCallInstruments(o.meterProvider.Meter(InstrumentationName))
	providerAttr := AttrProviderName.String(ProviderName)

	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		start := time.Now()
		stage := req.Metadata[provider.MetaStage]
		ctx, span := tracer.Start(ctx, OperationChat+" "+req.Model,
			trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(requestAttributes(req, providerAttr)...))
		counted := &eventCountingSpan{Span: span, inst: &inst, model: AttrRequestModel.String(req.Model)}
		if o.captureContent && span.IsRecording() {
			span.SetAttributes(AttrInputMessages.String(inputMessagesJSON(req.Messages)))
		}

		resp, err := next.Complete(trace.ContextWithSpan(ctx, counted), req)

		elapsed := time.Since(start).Seconds()
		common := []attribute.KeyValue{AttrOperationName.String(OperationChat), providerAttr, AttrRequestModel.String(req.Model)}
		byModel := metric.WithAttributes(AttrRequestModel.String(req.Model), AttrStage.String(stage))
		rateLimited := counted.rateLimited.Load()
		if err != nil {
			pe := provider.AsError(err)
			span.SetAttributes(errorAttributes(pe)...)
			span.SetStatus(codes.Error, pe.Error())
			errType := AttrErrorType.String(pe.Kind.String())
			inst.duration.Record(ctx, elapsed, metric.WithAttributes(append(common, errType)...))
			inst.failures.Add(ctx, 1, metric.WithAttributes(AttrRequestModel.String(req.Model), AttrStage.String(stage), errType))
			addRetries(ctx, inst, pe.Attempts, byModel)
			if pe.Kind == provider.KindRateLimited {
				rateLimited++
			}
		} else {
			span.SetAttributes(responseAttributes(resp)...)
			if o.captureContent && span.IsRecording() {
				span.SetAttributes(AttrOutputMessages.String(outputMessagesJSON(resp)))
			}
			if resp.Model != "" {
				common = append(common, AttrResponseModel.String(resp.Model))
			}
			inst.duration.Record(ctx, elapsed, metric.WithAttributes(common...))
			recordTokens(ctx, inst, resp.Usage, common)
			addRetries(ctx, inst, resp.Attempts, byModel)
		}
		if rateLimited > 0 {
			inst.rateLimited.Add(ctx, rateLimited, metric.WithAttributes(AttrRequestModel.String(req.Model)))
		}
		span.End()
		return resp, err
	}
}

// requestAttributes are the span attributes known before the call.
func requestAttributes(req *provider.Request, providerAttr attribute.KeyValue) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		AttrOperationName.String(OperationChat),
		providerAttr,
		AttrRequestModel.String(req.Model),
	}
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
	attrs := []attribute.KeyValue{
		AttrUsageInputTokens.Int64(resp.Usage.InputTokens),
		AttrUsageOutputTokens.Int64(resp.Usage.OutputTokens),
		AttrAttempts.Int(attempts(resp.Attempts)),
	}
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
