package server

import (
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"

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
}

func newOptions(opts []Option) options {
	o := options{
		logger:             slog.Default(),
		tiers:              orchestrator.Tiers(),
		defaultTier:        orchestrator.DefaultTierName,
		drainTimeout:       DefaultDrainTimeout,
		maxConsultDuration: DefaultMaxConsultDuration,
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
