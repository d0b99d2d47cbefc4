package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

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
