package deadline_test

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/councilhq/council/outbound/deadline"
	"github.com/councilhq/council/provider"
)

// hang answers after wait, or fails with the context's error when it ends
// first, as a transport does.
type hang struct{ wait time.Duration }

func (h hang) Complete(ctx context.Context, req *provider.Request) (*provider.Response, error) {
	select {
	case <-time.After(h.wait):
		return &provider.Response{Model: req.Model, Content: "ok"}, nil
	case <-ctx.Done():
		return nil, &provider.Error{Kind: provider.KindNetwork, Message: "connection closed", Err: ctx.Err()}
	}
}

func TestDeadline(t *testing.T) {
	tests := []struct {
		name     string
		limit    time.Duration
		wait     time.Duration
		caller   time.Duration // the caller's own deadline; 0 for none
		wantKind provider.Kind // KindUnknown for success
		wantAt   time.Duration
	}{
		{name: "answers in time", limit: 10 * time.Second, wait: 3 * time.Second, wantAt: 3 * time.Second},
		{name: "times out at the limit", limit: 10 * time.Second, wait: time.Minute, wantKind: provider.KindTimeout, wantAt: 10 * time.Second},
		{name: "zero disables it", limit: 0, wait: time.Minute, wantAt: time.Minute},
		{name: "the caller's earlier deadline is not a timeout of the call", limit: 10 * time.Second, wait: time.Minute, caller: 2 * time.Second, wantKind: provider.KindNetwork, wantAt: 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tc.caller > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.caller)
					defer cancel()
				}
				start := time.Now()
				c := provider.Chain(hang{tc.wait}, deadline.New(tc.limit))
				_, err := c.Complete(ctx, &provider.Request{Model: "m"})
				if took := time.Since(start); took != tc.wantAt {
					t.Errorf("ended after %v, want %v", took, tc.wantAt)
				}
				if tc.wantKind == provider.KindUnknown {
					if err != nil {
						t.Fatalf("err = %v, want success", err)
					}
					return
				}
				var pe *provider.Error
				if !errors.As(err, &pe) || pe.Kind != tc.wantKind {
					t.Fatalf("err = %v, want kind %v", err, tc.wantKind)
				}
				if tc.wantKind == provider.KindTimeout && pe.Message != "model call timed out after 10s" {
					t.Errorf("message = %q", pe.Message)
				}
			})
		})
	}
}
