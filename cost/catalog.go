package cost

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/councilhq/council/provider"
)

// DefaultTTL is how long a [Catalog] serves a model list before fetching it
// again.
const DefaultTTL = time.Hour

// Catalog is the provider's model list with prices, fetched once and then
// again whenever it is older than its TTL. It is safe for concurrent use.
type Catalog struct {
	lister provider.ModelLister
	ttl    time.Duration
	now    func() time.Time
	log    *slog.Logger

	fetch sync.Mutex // one fetch at a time

	mu      sync.RWMutex
	models  []provider.Model
	byID    map[string]provider.Model
	fetched time.Time
}

// CatalogOption configures a [Catalog].
type CatalogOption func(*Catalog)

// WithTTL sets how long a fetched list is served. Default [DefaultTTL];
// non-positive values are ignored.
func WithTTL(d time.Duration) CatalogOption {
	return func(c *Catalog) {
		if d > 0 {
			c.ttl = d
		}
	}
}

// WithClock sets the catalog's clock. Default time.Now.
func WithClock(now func() time.Time) CatalogOption { return func(c *Catalog) { c.now = now } }

// WithLogger sets where failed refreshes are logged. Default slog.Default().
func WithLogger(l *slog.Logger) CatalogOption { return func(c *Catalog) { c.log = l } }

// NewCatalog returns an empty catalog of the models lister lists; call
// [Catalog.ListModels] to fill it.
func NewCatalog(lister provider.ModelLister, opts ...CatalogOption) *Catalog {
	c := &Catalog{lister: lister, ttl: DefaultTTL, now: time.Now, log: slog.Default()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// ErrEmpty is returned by a refresh that lists no models.
var ErrEmpty = errors.New("cost: the provider lists no models")

// ListModels fetches the model list now, keeps it and returns it, which
// makes a Catalog a [provider.ModelLister] that fills itself. On failure
// the catalog keeps what it had.
func (c *Catalog) ListModels(ctx context.Context) ([]provider.Model, error) {
	c.fetch.Lock()
	defer c.fetch.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Catalog) refreshLocked(ctx context.Context) ([]provider.Model, error) {
	models, err := c.lister.ListModels(ctx)
	if err != nil {
		return nil, err
	}
	if len(models) == 0 {
		return nil, ErrEmpty
	}
	byID := make(map[string]provider.Model, len(models))
	for _, m := range models {
		byID[m.ID] = m
	}
	c.mu.Lock()
	c.models, c.byID, c.fetched = slices.Clone(models), byID, c.now()
	c.mu.Unlock()
	return slices.Clone(models), nil
}

// Models returns the model list and when it was fetched, fetching it
// again first when it is older than the TTL. When that fetch fails it
// returns the list it has, if any.
func (c *Catalog) Models(ctx context.Context) ([]provider.Model, time.Time, error) {
	if models, fetched, fresh := c.cached(); fresh {
		return models, fetched, nil
	}
	c.fetch.Lock()
	defer c.fetch.Unlock()
	// Another caller may have refreshed it while this one waited.
	if models, fetched, fresh := c.cached(); fresh {
		return models, fetched, nil
	}
	if _, err := c.refreshLocked(ctx); err != nil {
		stale, fetched, _ := c.cached()
		if len(stale) == 0 {
			return nil, time.Time{}, err
		}
		c.log.Warn("refreshing the model list failed; serving the previous one", "error", err)
		return stale, fetched, nil
	}
	models, fetched, _ := c.cached()
	return models, fetched, nil
}

// cached returns a copy of the list, when it was fetched and whether it is
// within its TTL.
func (c *Catalog) cached() ([]provider.Model, time.Time, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	fresh := c.models != nil && c.now().Sub(c.fetched) < c.ttl
	return slices.Clone(c.models), c.fetched, fresh
}

// Price returns model's price and whether the catalog lists the model.
// It never fetches.
func (c *Catalog) Price(model string) (provider.Price, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	m, ok := c.byID[model]
	return m.Price, ok
}

// Run refreshes the list every TTL until ctx ends, so prices follow the
// provider's. A failed refresh is logged and the previous list kept.
func (c *Catalog) Run(ctx context.Context) {
	t := time.NewTicker(c.ttl)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := c.ListModels(ctx); err != nil && ctx.Err() == nil {
				c.log.Warn("refreshing the model list failed; keeping the previous one", "error", err)
			}
		}
	}
}
