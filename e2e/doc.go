// Package e2e holds the end-to-end tests of the council service: the real
// server, orchestrator and OpenRouter client against the fake OpenRouter of
// package openroutertest, over loopback gRPC, and councild as a real
// process. It has no code of its own besides the tests.
package e2e
