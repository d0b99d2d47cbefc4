// Package deadline gives a model call its time limit. The orchestrator
// applies it around the whole outbound chain with its stage's limit (10 s
// for an answer or a ranking, 15 s for the synthesis, by default), so one
// limit covers the call's every attempt, backoff and rate-limit wait, and
// the hedged backup's.
package deadline

import (
	"context"
	"errors"
	"time"

	"github.com/councilhq/council/provider"
)

// New returns an interceptor that gives each call through it its own
// deadline of d under the caller's. When that deadline (and not the
// caller's context) ends the call, the error is a [*provider.Error] of kind
// [provider.KindTimeout]. A d of zero or less disables it.
func New(d time.Duration) provider.Interceptor {
	return func(ctx context.Context, req *provider.Request, next provider.Completer) (*provider.Response, error) {
		if d <= 0 {
			return next.Complete(ctx, req)
		}
		cctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		resp, err := next.Complete(cctx, req)
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			var pe *provider.Error
			if !errors.As(err, &pe) || pe.Kind != provider.KindTimeout {
				err = &provider.Error{Kind: provider.KindTimeout, Message: "model call timed out after " + d.String(), Err: err}
			}
		}
		return resp, err
	}
}
