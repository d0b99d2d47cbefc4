package provider

import "context"

// Interceptor observes or alters one completion. It calls next zero or more
// times (a retry interceptor may call it repeatedly) and must be safe for
// concurrent use.
type Interceptor func(ctx context.Context, req *Request, next Completer) (*Response, error)

// Chain wraps base so that the interceptors run in order, the first one
// outermost, like grpc.ChainUnaryInterceptor. The closures are built once.
func Chain(base Completer, interceptors ...Interceptor) Completer {
	c := base
	for i := len(interceptors) - 1; i >= 0; i-- {
		ic, next := interceptors[i], c
		if ic == nil {
			continue
		}
		c = CompleterFunc(func(ctx context.Context, req *Request) (*Response, error) {
			return ic(ctx, req, next)
		})
	}
	return c
}
