package provider_test

import (
	"testing"
	"time"

	"github.com/councilhq/council/provider"
)

func TestRateLimitsWait(t *testing.T) {
	now := time.Date(2026, 9, 27, 12, 0, 0, 0, time.UTC)
	spentFor := func(q provider.Quota) provider.Quota { q.Announced, q.Limit = true, 10; return q }
	tests := []struct {
		name string
		rl   func() provider.RateLimits
		want time.Duration
	}{
		{name: "nothing announced", rl: func() provider.RateLimits { return provider.RateLimits{} }, want: 0},
		{name: "retry-after", rl: func() provider.RateLimits { return provider.RateLimits{RetryAfter: 3 * time.Second} }, want: 3 * time.Second},
		{name: "a relative reset of a spent budget", rl: func() provider.RateLimits {
			var rl provider.RateLimits
			rl.Quotas[provider.Tokens] = spentFor(provider.Quota{Relative: true, ResetAfter: 6 * time.Second})
			return rl
		}, want: 6 * time.Second},
		{name: "an absolute reset of the shared budget, later than retry-after", rl: func() provider.RateLimits {
			return provider.RateLimits{RetryAfter: time.Second, Shared: spentFor(provider.Quota{ResetAt: now.Add(4 * time.Second)})}
		}, want: 4 * time.Second},
		{name: "a budget with requests left does not wait", rl: func() provider.RateLimits {
			return provider.RateLimits{Shared: spentFor(provider.Quota{Remaining: 1, ResetAt: now.Add(time.Minute)})}
		}, want: 0},
		{name: "a reset in the past", rl: func() provider.RateLimits {
			return provider.RateLimits{Shared: spentFor(provider.Quota{ResetAt: now.Add(-time.Second)})}
		}, want: 0},
	}
	for _, tc := range tests {
		if got := tc.rl().Wait(now); got != tc.want {
			t.Errorf("%s: Wait = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestKindLocal(t *testing.T) {
	for k := provider.KindUnknown; k <= provider.KindLimited+1; k++ {
		want := k == provider.KindCooldown || k == provider.KindLimited
		if k.Local() != want {
			t.Errorf("%v.Local() = %v, want %v", k, k.Local(), want)
		}
	}
}
