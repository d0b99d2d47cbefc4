// Package servertest serves a council gRPC server on a loopback port for
// the length of a test.
package servertest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/councilhq/council/server"
)

// stopTimeout bounds the wait for the server to stop when the test ends.
const stopTimeout = 2 * time.Minute

// Serve serves srv on a free loopback TCP port and returns its address.
// When the test ends it stops the server, failing the test if Serve
// returned an error or did not return within two minutes (longer than any
// drain timeout the tests set). Cleanups registered after Serve run before
// the server stops (close client connections there), those registered
// before it after (close upstreams there).
func Serve(tb testing.TB, srv *server.Server) string {
	tb.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	tb.Cleanup(func() {
		stop()
		select {
		case err := <-served:
			if err != nil {
				tb.Errorf("Serve: %v", err)
			}
		case <-time.After(stopTimeout):
			tb.Error("Serve did not return")
		}
	})
	return lis.Addr().String()
}
