// Command councild serves the council.v1.Council gRPC API: it convenes a
// council of language models for each query and streams the deliberation.
//
// It is configured by environment variables, each mirrored by a flag (run
// councild -h). With COUNCIL_PROVIDER=sim it needs no API key and no
// network: the models are simulated.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "councild:", err)
		os.Exit(1)
	}
}

// run configures councild from args and getenv, logs to logOut, and serves
// until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) error {
	cfg, warnings, err := loadConfig(args, getenv, logOut)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: cfg.logLevel}))
	for _, w := range warnings {
		log.Warn(w)
	}
	srv, err := newServer(ctx, cfg, log)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	log.Info("listening", "addr", lis.Addr().String(), "provider", cfg.provider, "tier", cfg.council.Tier)
	if err := srv.Serve(ctx, lis); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// newServer builds the provider client, the council and the gRPC server.
func newServer(ctx context.Context, cfg config, log *slog.Logger) (*server.Server, error) {
	client, err := newProvider(cfg)
	if err != nil {
		return nil, err
	}
	if err := checkModels(ctx, client, &cfg.council, log); err != nil {
		return nil, err
	}
	council, err := orchestrator.New(outbound(client), cfg.council, orchestrator.WithLogger(log))
	if err != nil {
		return nil, err
	}
	return server.New(council,
		server.WithLogger(log),
		server.WithTiers(cfg.council.Tier, orchestrator.Tiers()),
		server.WithMaxConsultDuration(cfg.maxConsult),
		server.WithDrainTimeout(cfg.drainTimeout),
	)
}
