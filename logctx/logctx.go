// Package logctx joins log lines to the call, the consultation and the
// trace they belong to. A context carries a set of log fields that code
// deeper in the call adds to (the request id, the consultation id), and
// [Handler] writes them on every record logged with that context, together
// with the trace and span ids of the context's span.
package logctx

import (
	"context"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// Field names written by [Handler] for the context's span.
const (
	TraceIDKey = "trace_id"
	SpanIDKey  = "span_id"
)

// fields is the mutable set of log fields of one context tree.
type fields struct {
	mu    sync.Mutex
	attrs []slog.Attr
}

type key struct{}

// With returns a context with a set of log fields of its own, starting
// with those of ctx. Fields added under it are seen by every context
// derived from it, including contexts made before the field was added.
func With(ctx context.Context) context.Context {
	return context.WithValue(ctx, key{}, &fields{attrs: Attrs(ctx)})
}

// Add sets attrs in ctx's log fields, replacing fields of the same keys.
// It does nothing when ctx has no fields (see [With]).
func Add(ctx context.Context, attrs ...slog.Attr) {
	f, _ := ctx.Value(key{}).(*fields)
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range attrs {
		replaced := false
		for i := range f.attrs {
			if f.attrs[i].Key == a.Key {
				f.attrs[i], replaced = a, true
				break
			}
		}
		if !replaced {
			f.attrs = append(f.attrs, a)
		}
	}
}

// Attrs returns a copy of ctx's log fields.
func Attrs(ctx context.Context) []slog.Attr {
	f, _ := ctx.Value(key{}).(*fields)
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]slog.Attr(nil), f.attrs...)
}

// Handler returns a handler that adds to every record the log fields of
// its context and, when the context holds a valid span, its trace_id and
// span_id, then passes it to h. A field the record already has is not
// added again.
func Handler(h slog.Handler) slog.Handler { return handler{h} }

type handler struct{ slog.Handler }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	extra := Attrs(ctx)
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		extra = append(extra, slog.String(TraceIDKey, sc.TraceID().String()), slog.String(SpanIDKey, sc.SpanID().String()))
	}
	if len(extra) > 0 {
		have := make(map[string]bool, r.NumAttrs())
		r.Attrs(func(a slog.Attr) bool {
			have[a.Key] = true
			return true
		})
		r = r.Clone()
		for _, a := range extra {
			if !have[a.Key] {
				r.AddAttrs(a)
			}
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return handler{h.Handler.WithAttrs(attrs)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.Handler.WithGroup(name)}
}
