package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/eventlog"
	"github.com/councilhq/council/redisconn"
)

// openRedis returns the client of the Redis the replicas share, or nil when
// none is configured. A Redis that does not answer at startup is logged,
// not fatal: the replica works on its own state until Redis answers.
func openRedis(ctx context.Context, c redisconn.Config, log *slog.Logger) (*redis.Client, error) {
	if !c.Enabled() {
		return nil, nil
	}
	rdb, err := redisconn.Open(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", envRedisURL, err)
	}
	// The client's own messages (a failed dial, every second of an
	// outage) go to the debug level; the users of Redis log an outage
	// once.
	setRedisLogger.Do(func() { redis.SetLogger(redisLogger{log}) })
	addr := redisconn.Redacted(c.URL)
	if err := rdb.Ping(ctx).Err(); err != nil {
		log.Warn("redis does not answer; using local state until it does", "redis", addr, "err", err)
	} else {
		log.Info("sharing state through redis", "redis", addr)
	}
	return rdb, nil
}

// setRedisLogger sets go-redis's logger, a global, once.
var setRedisLogger sync.Once

// redisLogger passes go-redis's messages to the log at debug level.
type redisLogger struct{ log *slog.Logger }

func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// newConsultations returns the manager of consultations: their events in
// Redis when rdb is not nil, else in memory.
func newConsultations(cfg config, rdb *redis.Client, log *slog.Logger) (*consultation.Manager, error) {
	var l eventlog.Log = eventlog.NewMemory(cfg.eventRetention)
	if rdb != nil {
		r, err := eventlog.NewRedis(rdb, eventlog.RedisConfig{Retention: cfg.eventRetention, Lease: cfg.lease})
		if err != nil {
			return nil, err
		}
		l = r
	}
	return consultation.New(l, consultation.Config{
		DetachedGrace: cfg.detachedGrace,
		RenewEvery:    cfg.lease / 3,
		Logger:        log,
	})
}
