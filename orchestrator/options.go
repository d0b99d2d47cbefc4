package orchestrator

import (
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/councilhq/council/provider"
)

// Option configures a [Council].
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	tracerProvider trace.TracerProvider
	observer       Observer
	logger         *slog.Logger
	prices         Prices
}

// Prices gives the provider's price of each model. *cost.Catalog is one.
type Prices interface {
	// Price returns model's price and whether it is known.
	Price(model string) (provider.Price, bool)
}

// WithPrices sets the models' prices, which estimates, cost caps and
// actual costs of calls whose usage carries no cost are computed with.
// Default: none, every model free. A nil Prices is ignored.
func WithPrices(p Prices) Option {
	return optionFunc(func(o *options) {
		if p != nil {
			o.prices = p
		}
	})
}

func defaultOptions() options {
	return options{
		tracerProvider: otel.GetTracerProvider(),
		logger:         slog.Default(),
	}
}

// WithTracerProvider sets where stage spans go. Default: the global provider.
// A nil provider is ignored.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) {
		if tp != nil {
			o.tracerProvider = tp
		}
	})
}

// WithObserver sets an observer told about every finished consultation.
// Default: none. A nil observer is ignored.
func WithObserver(obs Observer) Option {
	return optionFunc(func(o *options) {
		if obs != nil {
			o.observer = obs
		}
	})
}

// WithLogger sets the logger. Default: slog.Default(). A nil logger is ignored.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) {
		if l != nil {
			o.logger = l
		}
	})
}
