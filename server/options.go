package server

import (
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/orchestrator"
)

// Default values of the options.
const (
	// DefaultDrainTimeout is how long Serve lets in-flight calls finish
	// after its context ends before cancelling them.
	DefaultDrainTimeout = 20 * time.Second
	// DefaultMaxConsultDuration caps every consultation, whatever the
	// client's deadline.
	DefaultMaxConsultDuration = 5 * time.Minute
	// DefaultMaxConsultations is how many consultations may run at once
	// before more are refused with ResourceExhausted.
	DefaultMaxConsultations = 2000
)

// Option configures a [Server]. Nil options are ignored.
type Option interface {
	apply(*options)
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger             *slog.Logger
	tiers              []orchestrator.Tier
	defaultTier        string
	statsHandler       stats.Handler
	unary              []grpc.UnaryServerInterceptor
	stream             []grpc.StreamServerInterceptor
	drainTimeout       time.Duration
	maxConsultDuration time.Duration
	stats              StatsSource
	bearerTokens       []string
	bearerAuth         bool
	tlsConfig          *tls.Config
	reflection         bool
	maxConsultations   int
	maxPerCaller       int
	adaptive           *AdaptiveAdmission
	catalog            ModelCatalog
	tierCost           func(orchestrator.Tier) float64
	consultations      *consultation.Manager
	budgets            Budgets
}

func newOptions(opts []Option) options {
	o := options{
		logger:             slog.Default(),
		tiers:              orchestrator.Tiers(),
		defaultTier:        orchestrator.DefaultTierName,
		drainTimeout:       DefaultDrainTimeout,
		maxConsultDuration: DefaultMaxConsultDuration,
		reflection:         true,
		maxConsultations:   DefaultMaxConsultations,
	}
	for _, opt := range opts {
		if opt != nil {
			opt.apply(&o)
		}
	}
	return o
}

// WithLogger sets the logger for call start/finish lines, panics and
// internal errors. Default slog.Default(); nil is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}

// WithTiers sets what ListTiers reports: the tiers, fastest first, and the
// name of the one a request without a tier gets. Default
// orchestrator.Tiers() and orchestrator.DefaultTierName. Tiers the API has
// no enum value for are not listed.
func WithTiers(defaultTier string, tiers []orchestrator.Tier) Option {
	return optionFunc(func(o *options) {
		o.defaultTier = defaultTier
		o.tiers = append([]orchestrator.Tier(nil), tiers...)
	})
}

// WithModelCatalog sets what ListModels reports. Default none:
// ListModels fails with Unimplemented.
func WithModelCatalog(c ModelCatalog) Option {
	return optionFunc(func(o *options) { o.catalog = c })
}

// WithTierCost sets how ListTiers prices a consultation of a tier, called
// on every ListTiers so that it follows the current prices. Default: the
// tier's CostPerQuery.
func WithTierCost(f func(orchestrator.Tier) float64) Option {
	return optionFunc(func(o *options) { o.tierCost = f })
}

// WithBudgets enforces per-caller spending budgets: a consultation of a
// caller whose budget is spent fails before any model is called with
// ResourceExhausted, reason BUDGET_EXHAUSTED, a QuotaFailure naming the
// budget and a RetryInfo until its period resets; the cost cap of every
// other consultation of a caller with a budget is lowered to what remains
// of it, and its actual cost is recorded when it ends. GetSpend reports a
// caller's spend. A caller is identified as for
// [WithMaxConsultationsPerCaller]. Default none: nothing is enforced or
// recorded, and GetSpend fails with Unimplemented.
func WithBudgets(b Budgets) Option {
	return optionFunc(func(o *options) { o.budgets = b })
}

// WithStatsHandler installs a gRPC stats handler, such as otelgrpc's server
// handler. Default none; nil is ignored.
func WithStatsHandler(h stats.Handler) Option {
	return optionFunc(func(o *options) {
		if h != nil {
			o.statsHandler = h
		}
	})
}

// WithUnaryInterceptors appends unary interceptors; they run inside the
// logging and recovery interceptors, in the order given. Nil entries are
// ignored.
func WithUnaryInterceptors(ics ...grpc.UnaryServerInterceptor) Option {
	return optionFunc(func(o *options) {
		for _, ic := range ics {
			if ic != nil {
				o.unary = append(o.unary, ic)
			}
		}
	})
}

// WithStreamInterceptors appends stream interceptors; they run inside the
// logging and recovery interceptors, in the order given. Nil entries are
// ignored.
func WithStreamInterceptors(ics ...grpc.StreamServerInterceptor) Option {
	return optionFunc(func(o *options) {
		for _, ic := range ics {
			if ic != nil {
				o.stream = append(o.stream, ic)
			}
		}
	})
}

// WithDrainTimeout sets how long Serve waits, once its context ends, for
// in-flight calls to finish before cancelling them. Default
// [DefaultDrainTimeout]; zero or less is ignored.
func WithDrainTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.drainTimeout = d
		}
	})
}

// WithMaxConsultDuration caps the duration of every consultation; a client
// deadline can only shorten it. Default [DefaultMaxConsultDuration]; zero or
// less is ignored.
func WithMaxConsultDuration(d time.Duration) Option {
	return optionFunc(func(o *options) {
		if d > 0 {
			o.maxConsultDuration = d
		}
	})
}

// WithStats sets where GetStats takes its statistics from, usually the
// performance monitor. Default none: GetStats reports nothing.
func WithStats(src StatsSource) Option {
	return optionFunc(func(o *options) { o.stats = src })
}

// WithBearerTokens turns on bearer-token authentication: every call except
// those to the health service must carry "authorization: Bearer <token>"
// metadata with one of tokens, or it fails with Unauthenticated. Tokens are
// compared in constant time and never logged; the N-th token's caller is
// known as "token-N" for per-caller admission. [New] fails when tokens is
// empty or a token is empty or holds spaces or control characters. Default:
// no authentication.
func WithBearerTokens(tokens ...string) Option {
	return optionFunc(func(o *options) {
		o.bearerAuth = true
		o.bearerTokens = append([]string(nil), tokens...)
	})
}

// WithTLS serves TLS with cfg, which holds the server certificate; for
// mutual TLS it also sets ClientAuth to tls.RequireAndVerifyClientCert and
// ClientCAs. The verified client certificate's subject common name then
// identifies the caller for per-caller admission unless a bearer token
// does. Default: plaintext; nil is ignored.
func WithTLS(cfg *tls.Config) Option {
	return optionFunc(func(o *options) {
		if cfg != nil {
			o.tlsConfig = cfg.Clone()
		}
	})
}

// WithReflection turns server reflection on or off. Default on.
func WithReflection(enabled bool) Option {
	return optionFunc(func(o *options) { o.reflection = enabled })
}

// WithMaxConsultations sets how many consultations may run at once; past
// it, Consult fails at once with ResourceExhausted, a QuotaFailure and a
// RetryInfo. Default [DefaultMaxConsultations]; zero or less is ignored.
func WithMaxConsultations(n int) Option {
	return optionFunc(func(o *options) {
		if n > 0 {
			o.maxConsultations = n
		}
	})
}

// WithMaxConsultationsPerCaller sets how many consultations one caller may
// run at once, as [WithMaxConsultations] does for all callers together. A
// caller is a bearer token, else a verified client certificate, else a peer
// IP address. Default: no per-caller limit; zero or less means none.
func WithMaxConsultationsPerCaller(n int) Option {
	return optionFunc(func(o *options) { o.maxPerCaller = max(n, 0) })
}

// AdaptiveAdmission tunes the adaptive admission limit; zero fields take
// the defaults of package admission.
type AdaptiveAdmission struct {
	// Min is the floor of the limit (default 1); a Min above the maximum
	// of consultations is lowered to it.
	Min int
	// Initial is the limit before the first measurement (default a
	// quarter of the maximum of consultations).
	Initial int
	// Tolerance is the scheduler delay over its no-load baseline that
	// still counts as no overload (default admission.DefaultTolerance).
	Tolerance time.Duration
	// Window is how often the limit is updated (default
	// admission.DefaultWindow).
	Window time.Duration
}

// WithAdaptiveAdmission turns on adaptive admission: under the caps of
// [WithMaxConsultations] and [WithMaxConsultationsPerCaller], consultations
// are admitted up to a limit that follows the capacity the server measures,
// from how long its own work waits for a CPU (see package admission). Past
// it, Consult fails at once with ResourceExhausted, reason OVERLOADED, a
// QuotaFailure and a RetryInfo. Serve updates the limit while it runs.
// Default off.
func WithAdaptiveAdmission(a AdaptiveAdmission) Option {
	return optionFunc(func(o *options) { o.adaptive = &a })
}

// WithConsultations sets the manager that runs consultations and keeps
// their event logs, for Watch, idempotent Consult and detached
// consultations. [Server.Serve] renews its leases while it runs. Default:
// an in-memory log kept for eventlog.DefaultRetention, with
// consultation.DefaultDetachedGrace; nil is ignored.
func WithConsultations(m *consultation.Manager) Option {
	return optionFunc(func(o *options) {
		if m != nil {
			o.consultations = m
		}
	})
}
