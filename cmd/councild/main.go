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
	"slices"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"

	"github.com/councilhq/council/budget"
	"github.com/councilhq/council/buildinfo"
	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/limiter"
	"github.com/councilhq/council/limiter/redisbudget"
	"github.com/councilhq/council/logctx"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/server"
	"github.com/councilhq/council/telemetry"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errVersion):
		fmt.Println("councild", buildinfo.Read())
	case err != nil:
		fmt.Fprintln(os.Stderr, "councild:", err)
		os.Exit(1)
	}
}

// run configures councild from args and getenv, logs to logOut, and serves
// until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, logOut io.Writer) (err error) {
	cfg, err := loadConfig(args, getenv, logOut)
	if err != nil {
		return err
	}
	log := newLogger(cfg, logOut)
	cfg.telemetry.Logger = log
	build := buildinfo.Read()
	cfg.telemetry.ServiceVersion = build.Version
	tel, shutdownTelemetry, err := telemetry.Setup(ctx, cfg.telemetry)
	if err != nil {
		return err
	}
	defer func() {
		// Flush spans and metrics even though ctx has ended.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		err = errors.Join(err, shutdownTelemetry(sctx))
	}()
	mon := monitor.New(
		monitor.WithLogger(log),
		monitor.WithTiers(cfg.council.Tiers),
		monitor.WithMeterProvider(tel.MeterProvider),
		monitor.WithThresholds(cfg.thresholds))

	rdb, err := openRedis(ctx, cfg.redis, log)
	if err != nil {
		return err
	}
	var budgets limiter.Store
	if rdb != nil {
		defer rdb.Close()
		store, err := redisbudget.New(rdb, redisbudget.Options{Logger: log, MeterProvider: tel.MeterProvider})
		if err != nil {
			return err
		}
		defer store.Close()
		budgets = store
	}
	consultations, err := newConsultations(cfg, rdb, log)
	if err != nil {
		return err
	}
	callerBudgets := newCallerBudgets(cfg, rdb, log)
	srv, catalog, err := newServer(ctx, cfg, log, tel, mon, budgets, consultations, callerBudgets)
	if err != nil {
		return err
	}
	if callerBudgets != nil {
		budgetGauge, err := telemetry.ObserveBudgets(tel.MeterProvider, callerBudgets.Remaining)
		if err != nil {
			return err
		}
		defer func() { _ = budgetGauge.Unregister() }()
	}
	refreshCtx, stopRefresh := context.WithCancel(ctx)
	refreshDone := make(chan struct{})
	go func() {
		defer close(refreshDone)
		catalog.Run(refreshCtx)
	}()
	defer func() {
		stopRefresh()
		<-refreshDone
	}()
	gauges, err := telemetry.ObserveAdmission(tel.MeterProvider, srv.AdmissionLimit, srv.ConsultationsInFlight)
	if err != nil {
		return err
	}
	defer func() { _ = gauges.Unregister() }()
	buildGauge, err := telemetry.ObserveBuildInfo(tel.MeterProvider, build.Version, build.Revision, build.GoVersion)
	if err != nil {
		return err
	}
	defer func() { _ = buildGauge.Unregister() }()
	lis, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	if cfg.adminAddr != "" {
		stopAdmin, err := serveAdmin(ctx, cfg.adminAddr, tel.MetricsHandler, cfg.pprof, log)
		if err != nil {
			_ = lis.Close()
			return err
		}
		defer stopAdmin()
	}
	log.Info("listening", "addr", lis.Addr().String(), "version", build.Version, "provider", cfg.provider, "tier", cfg.council.Tier, "tracing", tel.Tracing,
		"tls", cfg.security.tls != nil, "mtls", cfg.security.tls != nil && cfg.security.tls.ClientCAs != nil,
		"auth_tokens", len(cfg.security.tokens))
	if len(cfg.security.tokens) == 0 && !isLoopback(lis.Addr().String()) {
		log.Warn(warnNoAuth)
	}
	if err := srv.Serve(ctx, lis); err != nil {
		return err
	}
	log.Info("stopped")
	return nil
}

// newServer builds the provider client, the model catalog, the council and
// the gRPC server. The catalog's one fetch at startup serves both the model
// check and the prices. budgets, when not nil, holds the provider budgets
// the replicas share; consultations runs the consultations and keeps their
// events; callerBudgets, when not nil, holds the callers' spending budgets.
func newServer(ctx context.Context, cfg config, log *slog.Logger, tel telemetry.Providers, mon *monitor.Monitor, budgets limiter.Store, consultations *consultation.Manager, callerBudgets *budget.Budgets) (*server.Server, *cost.Catalog, error) {
	client, err := newProvider(cfg)
	if err != nil {
		return nil, nil, err
	}
	catalog := cost.NewCatalog(client, cost.WithTTL(cfg.modelsTTL), cost.WithLogger(log))
	if err := checkModels(ctx, catalog, &cfg.council, cfg.models, log); err != nil {
		return nil, nil, err
	}
	council, err := orchestrator.New(outbound.New(client, outbound.Config{Telemetry: tel, CaptureContent: cfg.captureContent, MaxInFlight: cfg.upstreamInFlight, Hedge: cfg.hedge, Budgets: budgets}), cfg.council,
		orchestrator.WithLogger(log),
		orchestrator.WithTracerProvider(tel.TracerProvider),
		orchestrator.WithObserver(mon),
		orchestrator.WithPrices(catalog))
	if err != nil {
		return nil, nil, err
	}
	tier := defaultTier(cfg.council)
	tier.CostPerQuery = council.TierCost(tier)
	mon.LogTier(tier)
	opts := []server.Option{
		server.WithReflection(cfg.security.reflection),
		server.WithMaxConsultations(cfg.security.maxConsultations),
		server.WithMaxConsultationsPerCaller(cfg.security.maxPerCaller),
		cfg.admission.option(),
		server.WithTLS(cfg.security.tls),
	}
	if len(cfg.security.tokens) > 0 {
		opts = append(opts, server.WithBearerTokens(cfg.security.tokens...))
	}
	if callerBudgets != nil {
		opts = append(opts, server.WithBudgets(callerBudgets))
	}
	srv, err := server.New(council, append(opts,
		server.WithLogger(log),
		server.WithModelCatalog(catalog),
		server.WithTierCost(council.TierCost),
		server.WithTiers(cfg.council.Tier, effectiveTiers(cfg.council)),
		server.WithMaxConsultDuration(cfg.maxConsult),
		server.WithDrainTimeout(cfg.drainTimeout),
		server.WithStats(mon),
		server.WithConsultations(consultations),
		server.WithStatsHandler(otelgrpc.NewServerHandler(
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithMeterProvider(tel.MeterProvider),
			otelgrpc.WithPropagators(tel.Propagator))),
	)...)
	return srv, catalog, err
}

// newCallerBudgets returns the callers' spending budgets, with their spend
// in rdb when there is one, else in memory; nil when cfg sets no budgets.
func newCallerBudgets(cfg config, rdb *redis.Client, log *slog.Logger) *budget.Budgets {
	if cfg.budgets == nil {
		return nil
	}
	var store budget.Store
	if rdb != nil {
		store = budget.NewRedis(rdb, "")
	}
	return budget.New(*cfg.budgets, store, budget.WithLogger(log))
}

// defaultTier is the tier requests without one get, with the configured
// council and chairman overrides applied, or else without the models the
// provider does not serve.
func defaultTier(c orchestrator.Config) orchestrator.Tier {
	t, _ := orchestrator.FindTier(tiersOf(c), c.Tier)
	if len(c.Council) > 0 {
		t.Council = c.Council
	} else {
		t.Council = servedOnly(c, t.Council)
	}
	if c.Chairman != "" {
		t.Chairman = c.Chairman
	}
	return t
}

// effectiveTiers returns the tiers as requests get them: each council
// without the models the provider does not serve, and the default tier with
// the configured council and chairman.
func effectiveTiers(c orchestrator.Config) []orchestrator.Tier {
	tiers := slices.Clone(tiersOf(c))
	for i, t := range tiers {
		if t.Name == c.Tier {
			tiers[i] = defaultTier(c)
		} else {
			tiers[i].Council = servedOnly(c, t.Council)
		}
	}
	return tiers
}

// tiersOf returns c's tiers: c.Tiers, or the built-in tiers when it has
// none, as the council does.
func tiersOf(c orchestrator.Config) []orchestrator.Tier {
	if len(c.Tiers) == 0 {
		return orchestrator.Tiers()
	}
	return c.Tiers
}

// servedOnly returns the models of ms that c.KnownModels lists; all of them
// when the list is empty.
func servedOnly(c orchestrator.Config, ms []string) []string {
	if len(c.KnownModels) == 0 {
		return ms
	}
	var out []string
	for _, m := range ms {
		if slices.Contains(c.KnownModels, m) {
			out = append(out, m)
		}
	}
	return out
}

// newLogger returns the logger of cfg's format and level writing to out.
// Every line logged with a call's or a consultation's context carries its
// correlation fields and trace ids (package logctx).
func newLogger(cfg config, out io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	var h slog.Handler = slog.NewTextHandler(out, opts)
	if cfg.logFormat == logJSON {
		h = slog.NewJSONHandler(out, opts)
	}
	return slog.New(logctx.Handler(h))
}
