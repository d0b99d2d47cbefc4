package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
	"github.com/councilhq/council/telemetry"
)

// Environment variables councild reads. Each has a flag of its own that
// takes precedence, except the API key, which is never taken from the
// command line.
const (
	envAddr              = "COUNCIL_ADDR"
	envProvider          = "COUNCIL_PROVIDER"
	envAPIKey            = "OPENROUTER_API_KEY"
	envBaseURL           = "OPENROUTER_BASE_URL"
	envTier              = "MODEL_TIER"
	envModels            = "COUNCIL_MODELS"
	envChairman          = "CHAIRMAN_MODEL"
	envCollectTimeout    = "COUNCIL_COLLECT_TIMEOUT"
	envReviewTimeout     = "COUNCIL_REVIEW_TIMEOUT"
	envSynthesizeTimeout = "COUNCIL_SYNTHESIZE_TIMEOUT"
	envMaxConsult        = "COUNCIL_MAX_CONSULT_DURATION"
	envDrainTimeout      = "COUNCIL_DRAIN_TIMEOUT"
	envSimScale          = "COUNCIL_SIM_SCALE"
	envUpstreamInFlight  = "COUNCIL_UPSTREAM_MAX_IN_FLIGHT"
	envHedge             = "COUNCIL_HEDGE"
	envLogLevel          = "COUNCIL_LOG_LEVEL"
	envAdminAddr         = "COUNCIL_ADMIN_ADDR"
	envCollectThreshold  = "COUNCIL_COLLECT_THRESHOLD"
	envReviewThreshold   = "COUNCIL_REVIEW_THRESHOLD"
	envSynthThreshold    = "COUNCIL_SYNTHESIZE_THRESHOLD"
	envAuthTokens        = "COUNCIL_AUTH_TOKENS"
	envAuthTokensFile    = "COUNCIL_AUTH_TOKENS_FILE"
	envTLSCert           = "COUNCIL_TLS_CERT"
	envTLSKey            = "COUNCIL_TLS_KEY"
	envTLSClientCA       = "COUNCIL_TLS_CLIENT_CA"
	envReflection        = "COUNCIL_REFLECTION"
	envMaxConsultations  = "COUNCIL_MAX_CONSULTATIONS"
	envMaxPerCaller      = "COUNCIL_MAX_CONSULTATIONS_PER_CALLER"
)

// Providers councild can use.
const (
	providerSim        = "sim"
	providerOpenRouter = "openrouter"
)

// defaultAddr is where councild listens unless told otherwise.
const defaultAddr = "127.0.0.1:50051"

// defaultUpstreamInFlight is the default cap on model calls in flight: room
// for a few hundred consultations at once (four calls each at most) before
// calls queue.
const defaultUpstreamInFlight = 1024

// config is everything councild is configured with.
type config struct {
	addr     string
	provider string
	apiKey   string
	baseURL  string
	simScale float64
	logLevel slog.Level

	council orchestrator.Config
	// upstreamInFlight caps the model calls in flight to the provider.
	upstreamInFlight int
	// hedge maps a model to the backup a slow call to it is hedged with.
	hedge        map[string]string
	maxConsult   time.Duration
	drainTimeout time.Duration

	// adminAddr is where /metrics is served; empty turns it off.
	adminAddr  string
	telemetry  telemetry.Config
	thresholds map[orchestrator.Stage]time.Duration

	security security
	// admission is the adaptive limit under security.maxConsultations.
	admission adaptiveAdmission
}

// loadConfig reads the configuration from args (flags) and getenv, flags
// winning over the environment. It returns warnings about values it
// replaced with defaults (an unknown MODEL_TIER falls back to the default
// tier), and an error for values it cannot use.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (config, []string, error) {
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var (
		c        config
		warnings []string
		errs     []error
	)
	defaults := orchestrator.DefaultConfig()
	duration := func(key string, def time.Duration) time.Duration {
		v := env(key)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 10s", key, v))
			return def
		}
		return d
	}
	integer := func(key string, def int) int {
		v := env(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a whole number, 0 or more", key, v))
			return def
		}
		return n
	}
	boolean := func(key string, def bool) bool {
		v := env(key)
		if v == "" {
			return def
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want true or false", key, v))
			return def
		}
		return b
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	defaultProvider := providerSim
	if env(envAPIKey) != "" {
		defaultProvider = providerOpenRouter
	}
	simScale := 1.0
	if v := env(envSimScale); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive number", envSimScale, v))
		} else {
			simScale = f
		}
	}

	fs := flag.NewFlagSet("councild", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: councild [flags]\n\nServes the council.v1.Council gRPC API. Every flag defaults to its environment variable.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.addr, "addr", or(env(envAddr), defaultAddr), "listen address ("+envAddr+")")
	fs.StringVar(&c.provider, "provider", or(env(envProvider), defaultProvider),
		"model provider: sim or openrouter ("+envProvider+"; default openrouter when "+envAPIKey+" is set, else sim)")
	fs.StringVar(&c.baseURL, "openrouter-base-url", env(envBaseURL), "OpenRouter API root ("+envBaseURL+"; default https://openrouter.ai/api/v1)")
	fs.Float64Var(&c.simScale, "sim-scale", simScale, "multiplier of the simulated models' latencies ("+envSimScale+")")
	tier := fs.String("tier", or(env(envTier), orchestrator.DefaultTierName), "default tier: speed, balanced or cost ("+envTier+")")
	models := fs.String("models", env(envModels), "comma-separated council models replacing the default tier's ("+envModels+")")
	fs.StringVar(&c.council.Chairman, "chairman", env(envChairman), "chairman model replacing the default tier's ("+envChairman+")")
	fs.DurationVar(&c.council.CollectTimeout, "collect-timeout", duration(envCollectTimeout, defaults.CollectTimeout),
		"time limit of each Stage 1 model call ("+envCollectTimeout+")")
	fs.DurationVar(&c.council.ReviewTimeout, "review-timeout", duration(envReviewTimeout, defaults.ReviewTimeout),
		"time limit of each Stage 2 model call ("+envReviewTimeout+")")
	fs.DurationVar(&c.council.SynthesizeTimeout, "synthesize-timeout", duration(envSynthesizeTimeout, defaults.SynthesizeTimeout),
		"time limit of the chairman's call ("+envSynthesizeTimeout+")")
	fs.DurationVar(&c.maxConsult, "max-consult-duration", duration(envMaxConsult, server.DefaultMaxConsultDuration),
		"time limit of a whole consultation ("+envMaxConsult+")")
	fs.DurationVar(&c.drainTimeout, "drain-timeout", duration(envDrainTimeout, server.DefaultDrainTimeout),
		"on shutdown, how long in-flight consultations may finish ("+envDrainTimeout+")")
	fs.StringVar(&c.adminAddr, "admin-addr", env(envAdminAddr), "address of the admin HTTP server with /metrics; empty means none ("+envAdminAddr+")")
	th := telemetry.DefaultThresholds()
	collectTh := fs.Duration("collect-threshold", duration(envCollectThreshold, th[orchestrator.StageCollect]),
		"Stage 1 duration past which a warning is logged ("+envCollectThreshold+")")
	reviewTh := fs.Duration("review-threshold", duration(envReviewThreshold, th[orchestrator.StageReview]),
		"Stage 2 duration past which a warning is logged ("+envReviewThreshold+")")
	synthTh := fs.Duration("synthesize-threshold", duration(envSynthThreshold, th[orchestrator.StageSynthesize]),
		"Stage 3 duration past which a warning is logged ("+envSynthThreshold+")")
	tokensFile := fs.String("auth-tokens-file", env(envAuthTokensFile),
		"file of accepted bearer tokens, one per line ("+envAuthTokensFile+"; "+envAuthTokens+" adds a comma-separated list)")
	tlsCert := fs.String("tls-cert", env(envTLSCert), "PEM certificate chain to serve TLS with ("+envTLSCert+")")
	tlsKey := fs.String("tls-key", env(envTLSKey), "PEM private key of -tls-cert ("+envTLSKey+")")
	tlsClientCA := fs.String("tls-client-ca", env(envTLSClientCA), "PEM CA bundle; requires client certificates signed by it (mutual TLS) ("+envTLSClientCA+")")
	fs.BoolVar(&c.security.reflection, "reflection", boolean(envReflection, true), "serve gRPC server reflection ("+envReflection+")")
	fs.IntVar(&c.security.maxConsultations, "max-consultations", integer(envMaxConsultations, server.DefaultMaxConsultations),
		"consultations running at once before more are refused with RESOURCE_EXHAUSTED ("+envMaxConsultations+")")
	fs.IntVar(&c.security.maxPerCaller, "max-consultations-per-caller", integer(envMaxPerCaller, 0),
		"consultations one caller may run at once; 0 means no per-caller limit ("+envMaxPerCaller+")")
	fs.BoolVar(&c.admission.enabled, "adaptive-admission", boolean(envAdaptiveAdmission, defaultAdaptiveAdmission.enabled),
		"admit consultations up to a limit that follows the measured capacity, under -max-consultations ("+envAdaptiveAdmission+")")
	fs.IntVar(&c.admission.min, "admission-min", integer(envAdmissionMin, defaultAdaptiveAdmission.min),
		"floor of the adaptive admission limit ("+envAdmissionMin+")")
	fs.DurationVar(&c.admission.tolerance, "admission-tolerance", duration(envAdmissionTolerance, defaultAdaptiveAdmission.tolerance),
		"scheduler delay over its no-load baseline that adaptive admission tolerates before lowering the limit ("+envAdmissionTolerance+")")
	fs.IntVar(&c.upstreamInFlight, "upstream-max-in-flight", integer(envUpstreamInFlight, defaultUpstreamInFlight),
		"model calls in flight to the provider at once; more wait their turn ("+envUpstreamInFlight+")")
	hedge := fs.String("hedge", env(envHedge),
		"comma-separated model=backup pairs: a call slower than the model's observed p90 is also sent to the backup, and the first answer wins ("+envHedge+"; default none)")
	logLevel := fs.String("log-level", or(env(envLogLevel), "info"), "debug, info, warn or error ("+envLogLevel+")")
	if err := fs.Parse(args); err != nil {
		return config{}, nil, err
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}

	c.apiKey = env(envAPIKey)
	c.provider = strings.ToLower(strings.TrimSpace(c.provider))
	switch c.provider {
	case providerSim:
	case providerOpenRouter:
		if c.apiKey == "" {
			errs = append(errs, fmt.Errorf("the openrouter provider needs an API key: set %s (or use %s=sim)", envAPIKey, envProvider))
		}
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want sim or openrouter", envProvider, c.provider))
	}
	if m, err := parseHedge(*hedge); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", envHedge, err))
	} else {
		c.hedge = m
	}
	if c.upstreamInFlight <= 0 {
		errs = append(errs, fmt.Errorf("-upstream-max-in-flight %d: want a positive number", c.upstreamInFlight))
	}
	if c.simScale <= 0 {
		errs = append(errs, fmt.Errorf("-sim-scale %v: want a positive number", c.simScale))
	}
	if err := c.logLevel.UnmarshalText([]byte(*logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("%s=%q: want debug, info, warn or error", envLogLevel, *logLevel))
	}

	if c.security.maxConsultations <= 0 || c.security.maxPerCaller < 0 {
		errs = append(errs, fmt.Errorf("-max-consultations must be positive and -max-consultations-per-caller 0 or more"))
	}
	if c.admission.min <= 0 || c.admission.tolerance <= 0 {
		errs = append(errs, fmt.Errorf("-admission-min and -admission-tolerance must be positive"))
	}
	// Tokens come only from the environment and files, never from the
	// command line, where a process listing would show them.
	var err error
	if c.security.tokens, err = loadTokens(getenv(envAuthTokens), *tokensFile); err != nil {
		errs = append(errs, err)
	}
	if c.security.tls, err = loadTLS(*tlsCert, *tlsKey, *tlsClientCA); err != nil {
		errs = append(errs, err)
	}

	c.thresholds = map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect:    *collectTh,
		orchestrator.StageReview:     *reviewTh,
		orchestrator.StageSynthesize: *synthTh,
	}
	tel, err := telemetry.ConfigFromEnv(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	tel.Prometheus = c.adminAddr != ""
	c.telemetry = tel

	t, known := orchestrator.ResolveTier(*tier)
	if !known {
		warnings = append(warnings, fmt.Sprintf("%s=%q is not a tier (speed, balanced, cost); using %q", envTier, *tier, t.Name))
	}
	c.council.Tier = t.Name
	c.council.Council = splitList(*models)
	c.council.Chairman = strings.TrimSpace(c.council.Chairman)
	for _, d := range []time.Duration{c.council.CollectTimeout, c.council.ReviewTimeout, c.council.SynthesizeTimeout, c.maxConsult, c.drainTimeout} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("timeouts must be positive, got %v", d))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, nil, err
	}
	return c, warnings, nil
}

// splitList splits a comma-separated list, dropping blanks and duplicates.
func splitList(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" && !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// parseHedge reads "model=backup,model=backup" pairs.
func parseHedge(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		model, backup, ok := strings.Cut(pair, "=")
		model, backup = strings.TrimSpace(model), strings.TrimSpace(backup)
		if !ok || model == "" || backup == "" || model == backup {
			return nil, fmt.Errorf("%q: want model=backup with two different models", pair)
		}
		m[model] = backup
	}
	return m, nil
}
