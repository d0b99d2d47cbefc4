package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/redistest"
)

// BenchmarkWatchReplay measures the replay latency of Watch: from the
// Watch call to the first replayed event of a finished consultation, on
// the replica that ran it with the in-memory log, and on another replica
// reading Redis. It reports the p50 and p99 over the iterations.
//
//	go test ./e2e -run '^$' -bench WatchReplay -benchtime 2000x
func BenchmarkWatchReplay(b *testing.B) {
	for _, mode := range []string{"memory", "redis"} {
		b.Run(mode, func(b *testing.B) {
			cfg := replicaConfig{}
			if mode == "redis" {
				cfg.redis = redistest.Start(b)
			}
			rs := newReplicas(b, 2, slowUpstream(b, 0), cfg)
			ctx := as(context.Background(), tokenA)
			evs, err := readAllConsult(ctx, rs[0], &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
			if err != nil {
				b.Fatal(err)
			}
			watcher := rs[1]
			if mode == "memory" {
				watcher = rs[0]
			}
			id := evs[0].GetConsultationId()
			samples := make([]time.Duration, 0, b.N)
			for b.Loop() {
				callCtx, cancel := context.WithCancel(ctx)
				start := time.Now()
				stream, err := watcher.client.Watch(callCtx, &councilv1.WatchRequest{ConsultationId: id})
				if err == nil {
					_, err = stream.Recv()
				}
				samples = append(samples, time.Since(start))
				cancel()
				if err != nil {
					b.Fatal(err)
				}
			}
			slices.Sort(samples)
			at := func(p float64) float64 {
				i := min(len(samples)-1, int(p*float64(len(samples))+0.999999)-1)
				return float64(samples[max(i, 0)].Microseconds()) / 1000
			}
			b.ReportMetric(at(0.50), "p50-ms")
			b.ReportMetric(at(0.99), "p99-ms")
			b.ReportMetric(float64(len(evs)), "events")
		})
	}
}
