package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// serveAdmin serves the admin HTTP endpoints (/metrics) on addr until ctx
// ends or the returned stop is called; stop waits for the server to close.
func serveAdmin(ctx context.Context, addr string, metrics http.Handler, log *slog.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server failed", "error", err)
		}
	}()
	stopped := context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("admin listening", "addr", lis.Addr().String(), "metrics", "/metrics")
	return func() {
		stopped()
		_ = srv.Close()
		<-done
	}, nil
}
