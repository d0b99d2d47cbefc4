package server

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/logctx"
	"github.com/councilhq/council/orchestrator"
)

// TraceIDHeader is the response header that carries the call's trace id
// when tracing is on, so that a client can look the trace up.
const TraceIDHeader = "x-trace-id"

// consultMethod is the full name of the Consult method.
var consultMethod = "/" + councilv1.Council_ServiceDesc.ServiceName + "/Consult"

// Log field names that join a consultation's log lines.
const (
	logConsultationID = "consultation_id"
	logRequestID      = "request_id"
)

// correlateUnary gives every call its own log fields (see package logctx)
// and returns the trace id in the response header.
func correlateUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	ctx = logctx.With(ctx)
	sendTraceID(ctx, func(md metadata.MD) { _ = grpc.SetHeader(ctx, md) })
	return handler(ctx, req)
}

// correlateStream does what correlateUnary does for streams. A Consult
// call also gets its consultation id here, before any line is logged, and
// its request id as soon as the request is read, so that every log line of
// the call carries both.
func correlateStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx := logctx.With(ss.Context())
	if info.FullMethod == consultMethod {
		id := orchestrator.NewConsultationID()
		ctx = orchestrator.WithConsultationID(ctx, id)
		logctx.Add(ctx, slog.String(logConsultationID, id))
	}
	sendTraceID(ctx, func(md metadata.MD) { _ = ss.SetHeader(md) })
	return handler(srv, &correlatedStream{ServerStream: ss, ctx: ctx})
}

// consultationIDOf returns the consultation id correlateStream gave the
// call, or a new one.
func consultationIDOf(ctx context.Context) string {
	if id, ok := orchestrator.ConsultationIDFrom(ctx); ok {
		return id
	}
	return orchestrator.NewConsultationID()
}

// sendTraceID sets the trace id header through set when ctx has a span.
func sendTraceID(ctx context.Context, set func(metadata.MD)) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		set(metadata.Pairs(TraceIDHeader, sc.TraceID().String()))
	}
}

// correlatedStream is a server stream with the call's correlated context;
// it adds a ConsultRequest's request id to the log fields as it is read.
type correlatedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *correlatedStream) Context() context.Context { return s.ctx }

func (s *correlatedStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if req, ok := m.(*councilv1.ConsultRequest); ok && err == nil && req.GetRequestId() != "" {
		logctx.Add(s.ctx, slog.String(logRequestID, req.GetRequestId()))
	}
	return err
}
