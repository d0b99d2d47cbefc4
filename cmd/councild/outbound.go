package main

import "github.com/councilhq/council/provider"

// outbound builds the completer every model call goes through: the
// provider's client wrapped by the outbound interceptor chain, listed
// outermost first. The per-stage call timeouts are applied by the
// orchestrator inside this chain.
func outbound(client provider.Completer) provider.Completer {
	return provider.Chain(client)
}
