// Package redisconn opens the Redis client through which councild replicas
// share state: provider budgets, consultation event logs, idempotency keys
// and spend. Redis is optional; without a URL everything stays in memory.
package redisconn

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Time limits of one Redis command, short so that a Redis outage slows a
// consultation by at most this much before its users fall back.
const (
	DialTimeout  = time.Second
	ReadTimeout  = 500 * time.Millisecond
	WriteTimeout = 500 * time.Millisecond
)

// Config says where Redis is.
type Config struct {
	// URL is redis://[user:password@]host:port/db, or rediss://… for TLS.
	// Empty means no Redis.
	URL string
	// PasswordFile, when set, holds the password (surrounding white space
	// is trimmed); it overrides a password in URL.
	PasswordFile string
}

// Enabled reports whether a Redis URL is configured.
func (c Config) Enabled() bool { return c.URL != "" }

// ErrBadURL is returned for a URL that is not redis:// or rediss://. Its
// message never repeats the URL, which may hold a password.
var ErrBadURL = errors.New("want redis://[user:password@]host:port/db or rediss://… for TLS")

// Open returns a client for c. It does not connect: the first command does,
// so a Redis that is down at startup delays nothing.
func Open(c Config) (*redis.Client, error) {
	if !strings.HasPrefix(c.URL, "redis://") && !strings.HasPrefix(c.URL, "rediss://") {
		return nil, ErrBadURL
	}
	opts, err := redis.ParseURL(c.URL)
	if err != nil {
		return nil, ErrBadURL
	}
	if c.PasswordFile != "" {
		b, err := os.ReadFile(c.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("password file: %w", err)
		}
		opts.Password = strings.TrimSpace(string(b))
	}
	opts.DialTimeout = DialTimeout
	opts.ReadTimeout = ReadTimeout
	opts.WriteTimeout = WriteTimeout
	return redis.NewClient(opts), nil
}

// Redacted returns u with any password replaced by "xxxxx", for logs.
func Redacted(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
