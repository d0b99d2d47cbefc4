package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/councilhq/council/budget"
	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/cost"
	"github.com/councilhq/council/eventlog"
	"github.com/councilhq/council/monitor"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/redisconn"
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
	envTiersFile         = "COUNCIL_TIERS_FILE"
	envModels            = "COUNCIL_MODELS"
	envChairman          = "CHAIRMAN_MODEL"
	envCollectTimeout    = "COUNCIL_COLLECT_TIMEOUT"
	envReviewTimeout     = "COUNCIL_REVIEW_TIMEOUT"
	envSynthesizeTimeout = "COUNCIL_SYNTHESIZE_TIMEOUT"
	envMaxConsult        = "COUNCIL_MAX_CONSULT_DURATION"
	envDrainTimeout      = "COUNCIL_DRAIN_TIMEOUT"
	envSimScale          = "COUNCIL_SIM_SCALE"
	envUpstreamInFlight  = "COUNCIL_UPSTREAM_MAX_IN_FLIGHT"
	envUpstreamReadTick  = "COUNCIL_UPSTREAM_READ_TICK"
	envHedge             = "COUNCIL_HEDGE"
	envModelsTTL         = "COUNCIL_MODELS_TTL"
	envLogLevel          = "COUNCIL_LOG_LEVEL"
	envLogFormat         = "COUNCIL_LOG_FORMAT"
	envStartupTimeout    = "COUNCIL_STARTUP_TIMEOUT"
	envAdminAddr         = "COUNCIL_ADMIN_ADDR"
	envPprof             = "COUNCIL_PPROF"
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
	envDeltaFlushWindow  = "COUNCIL_DELTA_FLUSH_WINDOW"
	envStragglerCutoff   = "COUNCIL_STRAGGLER_CUTOFF"
	envStragglerFloor    = "COUNCIL_STRAGGLER_FLOOR"
	envStragglerMultiple = "COUNCIL_STRAGGLER_MULTIPLE"
	envRedisURL          = "COUNCIL_REDIS_URL"
	envRedisPasswordFile = "COUNCIL_REDIS_PASSWORD_FILE"
	envEventRetention    = "COUNCIL_EVENT_RETENTION"
	envDetachedGrace     = "COUNCIL_DETACHED_GRACE"
	envConsultationLease = "COUNCIL_CONSULTATION_LEASE"
	envBudgetsFile       = "COUNCIL_BUDGETS_FILE"
)

// Defaults of the straggler cut-off's wait, when it is turned on.
const (
	defaultStragglerFloor    = 250 * time.Millisecond
	defaultStragglerMultiple = 1.0
)

// Log formats.
const (
	logText = "text"
	logJSON = "json"
)

// Providers councild can use.
const (
	providerSim        = "sim"
	providerOpenRouter = "openrouter"
)

// defaultStartupTimeout is how long councild tries to reach its provider
// at startup.
const defaultStartupTimeout = 30 * time.Second

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
	// logFormat is logText or logJSON.
	logFormat string

	council orchestrator.Config
	// upstreamInFlight caps the model calls in flight to the provider.
	upstreamInFlight int
	// upstreamReadTick is the clock the provider's connections are read
	// at; zero reads every segment as it arrives.
	upstreamReadTick time.Duration
	// hedge maps a model to the backup a slow call to it is hedged with.
	hedge map[string]string
	// modelsTTL is how long the provider's model list and prices are used
	// before they are fetched again.
	modelsTTL    time.Duration
	maxConsult   time.Duration
	drainTimeout time.Duration

	// models says how the models are checked at startup.
	models modelCheck

	// redis is the Redis the replicas share state through; its URL is
	// empty when there is none.
	redis redisconn.Config
	// eventRetention is how long a consultation's events are kept after
	// it ends, for Watch and repeated request ids.
	eventRetention time.Duration
	// detachedGrace is how long a consultation with a request id keeps
	// running after its client went away.
	detachedGrace time.Duration
	// lease is how long a consultation counts as alive in Redis without
	// its replica renewing it.
	lease time.Duration

	// adminAddr is where /metrics is served; empty turns it off.
	adminAddr string
	// pprof serves the runtime profiles under /debug/pprof/ on the admin
	// server.
	pprof     bool
	telemetry telemetry.Config
	// captureContent records prompts and answers on call spans
	// (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
	captureContent bool
	thresholds     map[orchestrator.Stage]time.Duration

	security security
	// admission is the adaptive limit under security.maxConsultations.
	admission adaptiveAdmission
	// budgets are the callers' spending budgets; nil when none are set.
	budgets *budget.Config
}

// envCaptureContent turns on the recording of prompts and answers on call
// spans, as the OpenTelemetry GenAI conventions name it.
const envCaptureContent = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

// errVersion is returned by loadConfig when -version asks for the version
// instead of a server.
var errVersion = errors.New("version requested")

// rawConfig holds the settings that loadConfig checks and converts after
// parsing.
type rawConfig struct {
	tier, tiersFile, models, hedge, logLevel string
	collectTh, reviewTh, synthTh             time.Duration
	tokensFile, tlsCert, tlsKey, tlsClientCA string
	budgetsFile                              string
	flushWindow                              time.Duration
	straggler                                bool
	stragglerFloor                           time.Duration
	stragglerMultiple                        float64
}

// declareSettings declares every setting of councild on s, storing the
// parsed values in c and raw. Its order is the order of the README tables.
func declareSettings(s *settings, c *config, raw *rawConfig) {
	defaults := orchestrator.DefaultConfig()
	th := monitor.DefaultThresholds()
	defaultProvider := providerSim
	if s.env(envAPIKey) != "" {
		defaultProvider = providerOpenRouter
	}
	s.String(&c.addr, "addr", envAddr, defaultAddr, "gRPC listen address")
	s.String(&c.provider, "provider", envProvider, defaultProvider,
		"where model calls go: `openrouter` or `sim` (simulated models, no network)").
		Shown("`openrouter` if `" + envAPIKey + "` is set, else `sim`")
	c.apiKey = s.Secret(envAPIKey, "OpenRouter API key; required by the `openrouter` provider, and startup fails without it")
	s.String(&c.baseURL, "openrouter-base-url", envBaseURL, "", "API root of any OpenAI-compatible server").
		Shown("`https://openrouter.ai/api/v1`")
	s.String(&raw.tiersFile, "tiers-file", envTiersFile, "",
		"YAML or JSON file of the tiers `speed`, `balanced` and `cost`: each one's council, chairman and expected latency (the shape of `orchestrator/tiers.yaml`); a file that cannot be read or is not valid is a startup error").
		Shown("the built-in tiers (`orchestrator/tiers.yaml`)")
	s.String(&raw.tier, "tier", envTier, orchestrator.DefaultTierName,
		"default tier: `speed`, `balanced` or `cost`; any other value is a startup error")
	s.String(&raw.models, "models", envModels, "", "comma-separated council models for requests that name no tier").
		Shown("the tier's council")
	s.String(&c.council.Chairman, "chairman", envChairman, "", "chairman for requests that name no tier").
		Shown("the tier's chairman")
	s.Duration(&c.models.timeout, "startup-timeout", envStartupTimeout, defaultStartupTimeout,
		"how long startup retries a provider it cannot reach (with backoff, logging its address and the cause) before councild exits non-zero")
	s.Duration(&c.council.CollectTimeout, "collect-timeout", envCollectTimeout, defaults.CollectTimeout,
		"time limit of each Stage 1 model call")
	s.Duration(&c.council.ReviewTimeout, "review-timeout", envReviewTimeout, defaults.ReviewTimeout,
		"time limit of each Stage 2 model call")
	s.Duration(&c.council.SynthesizeTimeout, "synthesize-timeout", envSynthesizeTimeout, defaults.SynthesizeTimeout,
		"time limit of the chairman's call")
	s.Duration(&c.maxConsult, "max-consult-duration", envMaxConsult, server.DefaultMaxConsultDuration,
		"time limit of a whole consultation; a client deadline can only shorten it")
	s.Duration(&c.drainTimeout, "drain-timeout", envDrainTimeout, server.DefaultDrainTimeout,
		"on shutdown, how long in-flight consultations may finish")
	s.Int(&c.upstreamInFlight, "upstream-max-in-flight", envUpstreamInFlight, defaultUpstreamInFlight,
		"model calls in flight to the provider at once; more wait their turn")
	s.DurationOrZero(&c.upstreamReadTick, "upstream-read-tick", envUpstreamReadTick, openrouter.DefaultReadTick,
		"the provider's connections are read at ticks of this clock, shared by all of them, rather than once per arriving segment (a token, when streaming): less CPU for up to one tick more per piece; `0` reads as data arrives; used on Linux only")
	s.String(&raw.hedge, "hedge", envHedge, "",
		"hedged calls: comma-separated `model=backup` pairs; a call slower than the earlier of the model's observed p90 and twice the median answer time of its consultation's stage is also sent to the backup and the first answer wins").
		Shown("none")
	s.Duration(&c.modelsTTL, "models-ttl", envModelsTTL, cost.DefaultTTL,
		"how long the provider's model list and prices are used before they are fetched again")
	s.DurationOrZero(&raw.flushWindow, "delta-flush-window", envDeltaFlushWindow, orchestrator.DefaultDeltaFlushWindow,
		"how long streamed text is gathered into one event (the first piece of a stream goes out at once; 1 KiB goes out at once); `0` sends every piece as it arrives; a request may set its own")
	s.Bool(&raw.straggler, "straggler-cutoff", envStragglerCutoff, false,
		"Stage 1 straggler cut-off: once enough answers are in, wait for the rest at most max(floor, multiple × the median answer latency), then review without them; a request may set its own")
	s.Duration(&raw.stragglerFloor, "straggler-floor", envStragglerFloor, defaultStragglerFloor,
		"the straggler cut-off's shortest wait")
	s.Float(&raw.stragglerMultiple, "straggler-multiple", envStragglerMultiple, defaultStragglerMultiple,
		"the straggler cut-off's wait as a multiple of the median answer latency")
	s.Float(&c.simScale, "sim-scale", envSimScale, 1, "multiplier of the simulated models' latencies")
	s.String(&raw.logLevel, "log-level", envLogLevel, "info", "`debug`, `info`, `warn` or `error`")
	s.String(&c.logFormat, "log-format", envLogFormat, logText,
		"`text` (logfmt) or `json` (one object per line); every line of a consultation carries `consultation_id` and `request_id`, and `trace_id` and `span_id` when tracing is on")
	s.String(&c.adminAddr, "admin-addr", envAdminAddr, "", "address of the admin HTTP server with Prometheus `/metrics`; empty means none")
	s.Bool(&c.pprof, "pprof", envPprof, false,
		"serve Go's runtime profiles (heap, goroutines, CPU, trace) under `/debug/pprof/` on the admin server; needs `"+envAdminAddr+"`")
	s.Duration(&raw.collectTh, "collect-threshold", envCollectThreshold, th[orchestrator.StageCollect],
		"Stage 1 duration past which a warning is logged")
	s.Duration(&raw.reviewTh, "review-threshold", envReviewThreshold, th[orchestrator.StageReview],
		"Stage 2 duration past which a warning is logged")
	s.Duration(&raw.synthTh, "synthesize-threshold", envSynthThreshold, th[orchestrator.StageSynthesize],
		"Stage 3 duration past which a warning is logged")

	s.group = groupSecurity
	s.Secret(envAuthTokens, "comma-separated bearer tokens; any one is accepted")
	s.String(&raw.tokensFile, "auth-tokens-file", envAuthTokensFile, "",
		"file of bearer tokens, one per line; blank lines and `#` comments are skipped")
	s.String(&raw.tlsCert, "tls-cert", envTLSCert, "", "PEM certificate chain: serve TLS (1.2 or later)")
	s.String(&raw.tlsKey, "tls-key", envTLSKey, "", "PEM private key of the certificate")
	s.String(&raw.tlsClientCA, "tls-client-ca", envTLSClientCA, "",
		"PEM CA bundle: require client certificates it signed (mutual TLS)")
	s.Bool(&c.security.reflection, "reflection", envReflection, true, "serve gRPC server reflection")
	s.Int(&c.security.maxConsultations, "max-consultations", envMaxConsultations, server.DefaultMaxConsultations,
		"consultations running at once")
	s.Int(&c.security.maxPerCaller, "max-consultations-per-caller", envMaxPerCaller, 0,
		"consultations one caller may run at once").Shown("`0` (no limit)")
	s.Bool(&c.admission.enabled, "adaptive-admission", envAdaptiveAdmission, defaultAdaptiveAdmission.enabled,
		"under `"+envMaxConsultations+"`, admit consultations up to a limit that follows the measured capacity")
	s.Int(&c.admission.min, "admission-min", envAdmissionMin, defaultAdaptiveAdmission.min,
		"floor of the adaptive limit")
	s.Duration(&c.admission.tolerance, "admission-tolerance", envAdmissionTolerance, defaultAdaptiveAdmission.tolerance,
		"scheduler delay over its no-load baseline that the adaptive limit tolerates")
	s.String(&raw.budgetsFile, "budgets-file", envBudgetsFile, "",
		"YAML file of spending budgets per caller, in US dollars per day or month (see Caller budgets); empty means none")
	s.group = groupReplicas
	c.redis.URL = s.Secret(envRedisURL,
		"Redis shared by the replicas: `redis://[user:password@]host:port/db`, or `rediss://…` for TLS; unset keeps all state in memory")
	s.String(&c.redis.PasswordFile, "redis-password-file", envRedisPasswordFile, "",
		"file holding the Redis password; overrides one in `"+envRedisURL+"`")
	s.Duration(&c.eventRetention, "event-retention", envEventRetention, eventlog.DefaultRetention,
		"how long a consultation's events are kept after it ends, for `Watch` and repeated request ids (in Redis when configured, else in memory)")
	s.DurationOrZero(&c.detachedGrace, "detached-grace", envDetachedGrace, consultation.DefaultDetachedGrace,
		"how long a consultation with a request id keeps running after its client disconnects, and as long after as someone watches it; 0 cancels it at once")
	s.Duration(&c.lease, "consultation-lease", envConsultationLease, eventlog.DefaultLease,
		"with Redis: a consultation whose replica has not renewed it for this long is lost, and its watchers get `CONSULTATION_LOST`; renewed every third of it")
	s.group = groupGeneral
}

// loadConfig reads the configuration from args (flags) and getenv, flags
// winning over the environment. It returns an error naming every value it
// cannot use by the flag or variable that set it.
func loadConfig(args []string, getenv func(string) string, usage io.Writer) (config, error) {
	var (
		c    config
		raw  rawConfig
		errs []error
	)
	fs := flag.NewFlagSet("councild", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: councild [flags]\n\nServes the council.v1.Council gRPC API. Every flag defaults to its environment variable.\n\n")
		fs.PrintDefaults()
	}
	s := newSettings(fs, getenv)
	declareSettings(s, &c, &raw)
	version := fs.Bool("version", false, "print the version, VCS revision and build time, and exit")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if *version {
		return config{}, errVersion
	}
	errs = append(errs, s.errs...)
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}

	c.provider = strings.ToLower(strings.TrimSpace(c.provider))
	switch c.provider {
	case providerSim:
	case providerOpenRouter:
		if c.apiKey == "" {
			errs = append(errs, fmt.Errorf("the openrouter provider needs an API key: set %s (or use %s=sim)", envAPIKey, envProvider))
		}
	default:
		errs = append(errs, fmt.Errorf("%s=%q: want sim or openrouter", s.Source("provider"), c.provider))
	}
	if m, err := parseHedge(raw.hedge); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", s.Source("hedge"), err))
	} else {
		c.hedge = m
	}
	if c.pprof && c.adminAddr == "" {
		errs = append(errs, fmt.Errorf("%s needs an admin server: set %s", s.Source("pprof"), envAdminAddr))
	}
	if c.upstreamInFlight <= 0 {
		errs = append(errs, fmt.Errorf("%s=%d: want a positive number", s.Source("upstream-max-in-flight"), c.upstreamInFlight))
	}
	if c.simScale <= 0 {
		errs = append(errs, fmt.Errorf("%s=%v: want a positive number", s.Source("sim-scale"), c.simScale))
	}
	c.logFormat = strings.ToLower(strings.TrimSpace(c.logFormat))
	if c.logFormat != logText && c.logFormat != logJSON {
		errs = append(errs, fmt.Errorf("%s=%q: want text or json", s.Source("log-format"), c.logFormat))
	}
	if err := c.logLevel.UnmarshalText([]byte(raw.logLevel)); err != nil {
		errs = append(errs, fmt.Errorf("%s=%q: want debug, info, warn or error", s.Source("log-level"), raw.logLevel))
	}

	if c.security.maxConsultations <= 0 {
		errs = append(errs, fmt.Errorf("%s=%d: want a positive number", s.Source("max-consultations"), c.security.maxConsultations))
	}
	if c.security.maxPerCaller < 0 {
		errs = append(errs, fmt.Errorf("%s=%d: want 0 or more", s.Source("max-consultations-per-caller"), c.security.maxPerCaller))
	}
	if c.admission.min <= 0 {
		errs = append(errs, fmt.Errorf("%s=%d: want a positive number", s.Source("admission-min"), c.admission.min))
	}
	if c.admission.tolerance <= 0 {
		errs = append(errs, fmt.Errorf("%s=%v: want a positive duration", s.Source("admission-tolerance"), c.admission.tolerance))
	}
	// Tokens come only from the environment and files, never from the
	// command line, where a process listing would show them.
	var err error
	if c.security.tokens, err = loadTokens(getenv(envAuthTokens), raw.tokensFile); err != nil {
		errs = append(errs, err)
	}
	if c.security.tls, err = loadTLS(raw.tlsCert, raw.tlsKey, raw.tlsClientCA); err != nil {
		errs = append(errs, err)
	}
	if raw.budgetsFile != "" {
		if b, err := budget.ReadFile(raw.budgetsFile); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", s.Source("budgets-file"), raw.budgetsFile, err))
		} else {
			c.budgets = &b
		}
	}

	c.thresholds = map[orchestrator.Stage]time.Duration{
		orchestrator.StageCollect:    raw.collectTh,
		orchestrator.StageReview:     raw.reviewTh,
		orchestrator.StageSynthesize: raw.synthTh,
	}
	c.telemetry = telemetry.Config{Getenv: getenv, Prometheus: c.adminAddr != ""}
	if v := strings.TrimSpace(getenv(envCaptureContent)); v != "" {
		if c.captureContent, err = strconv.ParseBool(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q is not a boolean", envCaptureContent, v))
		}
	}

	c.council.Tiers = orchestrator.Tiers()
	if path := strings.TrimSpace(raw.tiersFile); path != "" {
		if c.council.Tiers, err = loadTiers(path); err != nil {
			errs = append(errs, fmt.Errorf("%s=%s: %w", s.Source("tiers-file"), path, err))
		}
	}
	if t, ok := orchestrator.FindTier(c.council.Tiers, raw.tier); ok {
		c.council.Tier = t.Name
	} else if c.council.Tiers != nil {
		errs = append(errs, fmt.Errorf("%s=%q: want %s", s.Source("tier"), raw.tier, strings.Join(orchestrator.TierNames, ", ")))
	}
	c.council.Council = splitList(raw.models)
	if need := orchestrator.DefaultConfig().MinAnswers; len(c.council.Council) > 0 && len(c.council.Council) < need {
		errs = append(errs, fmt.Errorf("%s=%q names %d model; a council needs at least %d", s.Source("models"), raw.models, len(c.council.Council), need))
	} else if strings.TrimSpace(raw.models) != "" && len(c.council.Council) == 0 {
		errs = append(errs, fmt.Errorf("%s=%q names no model", s.Source("models"), raw.models))
	}
	c.council.Chairman = strings.TrimSpace(c.council.Chairman)
	c.council.DeltaFlushWindow = raw.flushWindow
	if raw.flushWindow <= 0 {
		c.council.DeltaFlushWindow = -1 // every piece at once
	}
	if raw.flushWindow < 0 {
		errs = append(errs, fmt.Errorf("%s=%v: want 0 or more", s.Source("delta-flush-window"), raw.flushWindow))
	}
	if raw.stragglerMultiple <= 0 {
		errs = append(errs, fmt.Errorf("%s=%v: want a positive number", s.Source("straggler-multiple"), raw.stragglerMultiple))
	}
	if raw.straggler {
		c.council.StragglerCutoff = orchestrator.StragglerCutoff{Floor: raw.stragglerFloor, Multiple: raw.stragglerMultiple}
	}
	c.models.modelsFrom, c.models.chairmanFrom, c.models.tierFrom = s.Source("models"), s.Source("chairman"), s.Source("tier")
	c.models.timeoutFrom = s.Source("startup-timeout")
	c.models.baseURL = c.baseURL
	switch {
	case c.provider == providerSim:
		c.models.baseURL = "the simulator"
	case c.baseURL == "":
		c.models.baseURL = openrouter.DefaultBaseURL
	}
	for _, name := range []string{"startup-timeout", "collect-timeout", "review-timeout", "synthesize-timeout", "max-consult-duration", "drain-timeout",
		"collect-threshold", "review-threshold", "synthesize-threshold", "straggler-floor"} {
		if d := fs.Lookup(name).Value.(flag.Getter).Get().(time.Duration); d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%v: want a positive duration", s.Source(name), d))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return config{}, err
	}
	return c, nil
}

// loadTiers reads the tier file at path (see orchestrator.ParseTiers).
func loadTiers(path string) ([]orchestrator.Tier, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return orchestrator.ParseTiers(data)
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
