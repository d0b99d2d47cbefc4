package budget

import (
	"context"
	"log/slog"
	"testing"

	"github.com/councilhq/council/internal/redistest"
)

// BenchmarkCheckAndRecord is what budgets add to one consultation: a check
// before it and a charge after it, with the spend in memory and in a real
// redis-server on loopback.
func BenchmarkCheckAndRecord(b *testing.B) {
	cfg := Config{Default: &Limit{USD: 1e12, Period: Day}}
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		store func(b *testing.B) Store
	}{
		{"memory", func(*testing.B) Store { return nil }},
		{"redis", func(b *testing.B) Store {
			srv := redistest.Start(b)
			return NewRedis(newClient(b, srv), "")
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			bs := New(cfg, tc.store(b), WithLogger(slog.New(slog.DiscardHandler)))
			b.ResetTimer()
			for b.Loop() {
				if _, err := bs.Check(ctx, "token-1"); err != nil {
					b.Fatal(err)
				}
				bs.Record(ctx, "token-1", 0.003)
			}
		})
	}
}
