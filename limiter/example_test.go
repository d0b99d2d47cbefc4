package limiter_test

import (
	"net/http"
	"time"

	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/outbound/deadline"
	"github.com/councilhq/council/outbound/retry"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

// The limiter inside the retry interceptor, so that every attempt pays its
// share of the provider's budget, and the call's time limit outside both,
// so that waits and retries count against it. Package outbound assembles
// the service's chain this way, with hedging and telemetry outside retry.
func Example() {
	client, err := openrouter.New(&http.Client{Transport: openrouter.NewTransport()},
		openrouter.Config{APIKey: "sk-or-..."})
	if err != nil {
		panic(err)
	}
	lim := limiter.New() // one per process: it holds the budgets
	completer := provider.Chain(client,
		deadline.New(10*time.Second),
		retry.New(),
		lim.Interceptor(),
	)
	_ = completer
}
