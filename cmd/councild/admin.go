package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveAdmin serves the admin HTTP endpoints (/metrics, and the runtime
// profiles under /debug/pprof/ when withPprof is set) on addr until ctx
// ends or the returned stop is called; stop waits for the server to close.
func serveAdmin(ctx context.Context, addr string, metrics http.Handler, withPprof bool, log *slog.Logger) (stop func(), err error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics)
	if withPprof {
		// The handlers are registered on this mux only: importing
		// net/http/pprof also registers them on http.DefaultServeMux,
		// which councild never serves.
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin server failed", "error", err)
		}
	}()
	stopped := context.AfterFunc(ctx, func() { _ = srv.Close() })
	log.Info("admin listening", "addr", lis.Addr().String(), "metrics", "/metrics", "pprof", withPprof)
	return func() {
		stopped()
		_ = srv.Close()
		<-done
	}, nil
}
