package provider

import (
	"context"
	"errors"
	"time"
)

// Timeout returns an interceptor that gives each call through it its own
// deadline of d under the caller's. When that deadline (and not the caller's
// context) ends the call, the error is an *Error of kind [KindTimeout].
// A d of zero or less disables it.
func Timeout(d time.Duration) Interceptor {
	return func(ctx context.Context, req *Request, next Completer) (*Response, error) {
		if d <= 0 {
			return next.Complete(ctx, req)
		}
		cctx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		resp, err := next.Complete(cctx, req)
		if err != nil && ctx.Err() == nil && errors.Is(cctx.Err(), context.DeadlineExceeded) {
			var pe *Error
			if !errors.As(err, &pe) || pe.Kind != KindTimeout {
				err = &Error{Kind: KindTimeout, Message: "model call timed out after " + d.String(), Err: err}
			}
		}
		return resp, err
	}
}
