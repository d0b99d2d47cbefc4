package telemetry

import (
	"context"
	"fmt"
	"testing"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/councilhq/council/provider"
)

// BenchmarkGenAIInterceptor measures the interceptor's overhead per call,
// with no-op providers (telemetry off) and with spans and metrics recorded
// in memory.
func BenchmarkGenAIInterceptor(b *testing.B) {
	for _, recording := range []bool{false, true} {
		b.Run(fmt.Sprintf("recording=%v", recording), func(b *testing.B) {
			opts := []Option{WithTracerProvider(tracenoop.NewTracerProvider()), WithMeterProvider(metricnoop.NewMeterProvider())}
			if recording {
				h := newHarness(b)
				opts = []Option{WithTracerProvider(h.tp), WithMeterProvider(h.mp)}
			}
			resp := &provider.Response{Content: "ok", Usage: provider.Usage{InputTokens: 10, OutputTokens: 5}}
			c := provider.Chain(provider.CompleterFunc(func(context.Context, *provider.Request) (*provider.Response, error) { return resp, nil }),
				GenAIInterceptor(opts...))
			req := chatRequest("m/bench")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Complete(context.Background(), req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
