package budget

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultRedisPrefix starts the keys [Redis] writes.
const DefaultRedisPrefix = "council:budget:"

// Redis is a [Store] in Redis, which replicas share. Each key is a string
// holding the spend in US dollars, added to with INCRBYFLOAT and set to
// expire at the end of its period in the same MULTI transaction.
type Redis struct {
	rdb    redis.UniversalClient
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store in rdb whose keys start with prefix; ""
// means [DefaultRedisPrefix].
func NewRedis(rdb redis.UniversalClient, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{rdb: rdb, prefix: prefix}
}

// Spent returns the spend under key (GET).
func (r *Redis) Spent(ctx context.Context, key string) (float64, error) {
	v, err := r.rdb.Get(ctx, r.prefix+key).Float64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

// Add adds usd to key's spend and sets it to expire at expires, atomically
// (MULTI: INCRBYFLOAT, EXPIREAT).
func (r *Redis) Add(ctx context.Context, key string, usd float64, expires time.Time) (float64, error) {
	k := r.prefix + key
	var incr *redis.FloatCmd
	_, err := r.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.IncrByFloat(ctx, k, usd)
		p.ExpireAt(ctx, k, expires)
		return nil
	})
	if err != nil {
		return 0, err
	}
	return incr.Val(), nil
}
