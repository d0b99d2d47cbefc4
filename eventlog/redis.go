package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a [Log] in Redis, shared by the replicas. Each consultation has
// four keys, hash-tagged by its id: a hash of its Info and state, a stream
// of its events (entry id "<seq>-0", field "d") followed by its end (an
// entry with field "e"), its lease and a short-lived mark of its readers.
// A request id's claim is one more key, named by a digest of the owner and
// the request id. Every update is one Lua script.
type Redis struct {
	rdb       redis.UniversalClient
	retention time.Duration
	lease     time.Duration
	prefix    string
	// blocking holds a token for each blocking XREAD in progress.
	blocking chan struct{}
}

// pollInterval is how often a Read that found no free blocking read polls.
const pollInterval = 100 * time.Millisecond

// RedisConfig configures a [Redis].
type RedisConfig struct {
	// Retention is how long a log is kept after its consultation ends.
	// Default [DefaultRetention].
	Retention time.Duration
	// Lease is how long a running consultation's log counts as alive
	// without Renew. Default [DefaultLease].
	Lease time.Duration
	// Prefix starts every key. Default "council:".
	Prefix string
	// MaxBlockingReads bounds the Reads that wait with a blocking XREAD,
	// each holding one of the client's pooled connections, so that
	// watchers cannot starve the writes of running consultations; past
	// it, Reads poll every 100 ms. Default half the client's pool.
	MaxBlockingReads int
}

// NewRedis returns a log kept in rdb.
func NewRedis(rdb redis.UniversalClient, cfg RedisConfig) (*Redis, error) {
	if rdb == nil {
		return nil, errors.New("eventlog: nil redis client")
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "council:"
	}
	if cfg.MaxBlockingReads <= 0 {
		cfg.MaxBlockingReads = 5
		if c, ok := rdb.(*redis.Client); ok {
			cfg.MaxBlockingReads = max(1, c.Options().PoolSize/2)
		}
	}
	return &Redis{rdb: rdb, retention: cfg.Retention, lease: cfg.Lease, prefix: cfg.Prefix,
		blocking: make(chan struct{}, cfg.MaxBlockingReads)}, nil
}

var _ Log = (*Redis)(nil)

// keys names one consultation's keys.
type keys struct{ meta, events, lease, watched string }

func (r *Redis) keys(id string) keys {
	p := r.prefix + "c:{" + id + "}:"
	return keys{meta: p + "m", events: p + "e", lease: p + "l", watched: p + "w"}
}

// requestKey names the claim of owner's request id.
func (r *Redis) requestKey(owner, requestID string) string {
	h := sha256.New()
	h.Write([]byte(owner))
	h.Write([]byte{0})
	h.Write([]byte(requestID))
	return r.prefix + "r:" + hex.EncodeToString(h.Sum(nil))
}

// ttl is how long a running consultation's keys live without renewal: the
// retention, plus the lease so that they outlive it.
func (r *Redis) ttl() int64 { return (r.retention + r.lease).Milliseconds() }

// createScript claims the request id (KEYS[1], when ARGV[7] is "1") and
// creates the consultation's hash (KEYS[2]) and lease (KEYS[3]). It returns
// {1} when it created them, {0, claim} when the request id was claimed
// already (claim is "<id>\n<owner>\n<fingerprint>"), {-1} when the id is
// taken. A claim whose consultation was lost (not ended, its lease
// lapsed: its replica died) is taken over, so that a retry runs the
// request again instead of following a consultation that will never end.
// The claimed consultation's keys are named from the key prefix ARGV[8].
var createScript = redis.NewScript(`
if ARGV[7] == '1' then
  local prev = redis.call('GET', KEYS[1])
  if prev then
    local id = string.match(prev, '^([^\n]*)')
    local p = ARGV[8] .. 'c:{' .. id .. '}:'
    local lost = redis.call('EXISTS', p .. 'l') == 0 and redis.call('HEXISTS', p .. 'm', 'ended') == 0
    if not lost then return {0, prev} end
  end
end
if redis.call('EXISTS', KEYS[2]) == 1 then return {-1} end
if ARGV[7] == '1' then
  redis.call('SET', KEYS[1], ARGV[1] .. '\n' .. ARGV[2] .. '\n' .. ARGV[4], 'PX', ARGV[5])
  redis.call('HSET', KEYS[2], 'req', KEYS[1])
end
redis.call('HSET', KEYS[2], 'owner', ARGV[2], 'request_id', ARGV[3], 'fp', ARGV[4], 'last', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('SET', KEYS[3], '1', 'PX', ARGV[6])
return {1}
`)

// Create implements [Log].
func (r *Redis) Create(ctx context.Context, info Info) (Info, bool, error) {
	k := r.keys(info.ID)
	claim := "0"
	if info.RequestID != "" {
		claim = "1"
	}
	res, err := createScript.Run(ctx, r.rdb,
		[]string{r.requestKey(info.Owner, info.RequestID), k.meta, k.lease},
		info.ID, info.Owner, info.RequestID, info.Fingerprint, r.ttl(), r.lease.Milliseconds(), claim, r.prefix).Slice()
	if err != nil {
		return Info{}, false, fmt.Errorf("eventlog: create: %w", err)
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		return info, true, nil
	case 0:
		s, _ := res[1].(string)
		parts := strings.SplitN(s, "\n", 3)
		if len(parts) != 3 {
			return Info{}, false, errors.New("eventlog: create: malformed claim")
		}
		return Info{ID: parts[0], Owner: parts[1], RequestID: info.RequestID, Fingerprint: parts[2]}, false, nil
	default:
		return Info{}, false, ErrEnded
	}
}

// appendScript adds event ARGV[1] (data ARGV[2]) to the stream KEYS[2] if
// the hash KEYS[1] says the log runs and the event is the next one; it
// returns 1, or -1 (not found), -2 (ended), -3 (out of sequence).
var appendScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'ended') == 1 then return -2 end
local last = tonumber(redis.call('HGET', KEYS[1], 'last'))
if tonumber(ARGV[1]) ~= last + 1 then return -3 end
redis.call('XADD', KEYS[2], ARGV[1] .. '-0', 'd', ARGV[2])
redis.call('HSET', KEYS[1], 'last', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
`)

// Append implements [Log].
func (r *Redis) Append(ctx context.Context, id string, e Entry) error {
	k := r.keys(id)
	n, err := appendScript.Run(ctx, r.rdb, []string{k.meta, k.events},
		strconv.FormatUint(e.Seq, 10), e.Data, r.ttl()).Int64()
	if err != nil {
		return fmt.Errorf("eventlog: append: %w", err)
	}
	return scriptError(n)
}

// endScript appends the end (ARGV[1]) to the stream KEYS[2], marks the
// hash KEYS[1] ended, drops the lease KEYS[3] and sets every key to expire
// after the retention (ARGV[2]). It returns like appendScript.
var endScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HEXISTS', KEYS[1], 'ended') == 1 then return -2 end
redis.call('XADD', KEYS[2], '*', 'e', ARGV[1])
redis.call('HSET', KEYS[1], 'ended', '1')
redis.call('DEL', KEYS[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local req = redis.call('HGET', KEYS[1], 'req')
if req then redis.call('PEXPIRE', req, ARGV[2]) end
return 1
`)

// End implements [Log].
func (r *Redis) End(ctx context.Context, id string, status []byte) error {
	k := r.keys(id)
	n, err := endScript.Run(ctx, r.rdb, []string{k.meta, k.events, k.lease},
		status, r.retention.Milliseconds()).Int64()
	if err != nil {
		return fmt.Errorf("eventlog: end: %w", err)
	}
	return scriptError(n)
}

// readScript returns {0} when the hash KEYS[1] is gone, else {1, owner,
// lease alive (KEYS[3] exists), entries of the stream KEYS[2] from ARGV[1]
// (at most ARGV[2], 0 for all)}, and marks a reader present (KEYS[4], for
// ARGV[3] ms).
var readScript = redis.NewScript(`
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {0} end
redis.call('SET', KEYS[4], '1', 'PX', ARGV[3])
local es
if ARGV[2] == '0' then
  es = redis.call('XRANGE', KEYS[2], ARGV[1], '+')
else
  es = redis.call('XRANGE', KEYS[2], ARGV[1], '+', 'COUNT', ARGV[2])
end
return {1, owner, redis.call('EXISTS', KEYS[3]), es}
`)

// Read implements [Log]. It waits with a blocking XREAD, which holds one
// of the client's pooled connections while it waits, or, when
// MaxBlockingReads are already waiting, polls.
func (r *Redis) Read(ctx context.Context, id string, after uint64, limit int, wait time.Duration) (Batch, error) {
	b, err := r.read(ctx, id, after, limit)
	if err != nil || len(b.Entries) > 0 || b.Ended || b.Lost || wait <= 0 {
		return b, err
	}
	if err := r.wait(ctx, id, after, min(wait, MaxWait)); err != nil {
		return Batch{}, err
	}
	return r.read(ctx, id, after, limit)
}

// wait waits up to d for an event after after: with a blocking XREAD
// when one is free, else by sleeping a poll interval.
func (r *Redis) wait(ctx context.Context, id string, after uint64, d time.Duration) error {
	select {
	case r.blocking <- struct{}{}:
		defer func() { <-r.blocking }()
	default:
		t := time.NewTimer(min(d, pollInterval))
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	err := r.rdb.XRead(ctx, &redis.XReadArgs{
		Streams: []string{r.keys(id).events, strconv.FormatUint(after, 10) + "-0"},
		Count:   1,
		Block:   max(d, time.Millisecond),
	}).Err()
	if err != nil && !errors.Is(err, redis.Nil) {
		// redis.Nil: nothing came; the caller checks the lease again.
		return fmt.Errorf("eventlog: read: %w", err)
	}
	return nil
}

// read runs readScript once and decodes its answer.
func (r *Redis) read(ctx context.Context, id string, after uint64, limit int) (Batch, error) {
	k := r.keys(id)
	count := 0
	if limit > 0 {
		// One more than asked for: the end, if it comes next, is
		// returned with the last event, as Memory does.
		count = limit + 1
	}
	res, err := readScript.Run(ctx, r.rdb, []string{k.meta, k.events, k.lease, k.watched},
		strconv.FormatUint(after+1, 10)+"-0", count, WatchMark.Milliseconds()).Slice()
	if err != nil {
		return Batch{}, fmt.Errorf("eventlog: read: %w", err)
	}
	if found, _ := res[0].(int64); found != 1 || len(res) != 4 {
		return Batch{}, ErrNotFound
	}
	b := Batch{}
	b.Owner, _ = res[1].(string)
	alive, _ := res[2].(int64)
	entries, _ := res[3].([]any)
	more := false
	for _, raw := range entries {
		e, ok := raw.([]any)
		if !ok || len(e) != 2 {
			return Batch{}, errors.New("eventlog: read: malformed entry")
		}
		streamID, _ := e[0].(string)
		fields, _ := e[1].([]any)
		if len(fields) != 2 {
			return Batch{}, errors.New("eventlog: read: malformed entry")
		}
		name, _ := fields[0].(string)
		value, _ := fields[1].(string)
		if name == "e" {
			b.Ended, b.End = true, []byte(value)
			break
		}
		if limit > 0 && len(b.Entries) == limit {
			more = true
			break
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(streamID, "-0"), 10, 64)
		if err != nil || seq != after+uint64(len(b.Entries))+1 {
			return Batch{}, fmt.Errorf("eventlog: read: entry %q out of sequence", streamID)
		}
		b.Entries = append(b.Entries, Entry{Seq: seq, Data: []byte(value)})
	}
	// Lost: no lease, no end, and nothing more to read.
	b.Lost = alive == 0 && !b.Ended && !more
	return b, nil
}

// Watched implements [Log].
func (r *Redis) Watched(ctx context.Context, id string) (bool, error) {
	n, err := r.rdb.Exists(ctx, r.keys(id).watched).Result()
	if err != nil {
		return false, fmt.Errorf("eventlog: watched: %w", err)
	}
	return n == 1, nil
}

// renewScript renews a running log: its lease (KEYS[3], ARGV[1] ms) and
// the expiry of its keys (ARGV[2] ms).
var renewScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HEXISTS', KEYS[1], 'ended') == 1 then return 0 end
redis.call('SET', KEYS[3], '1', 'PX', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
local req = redis.call('HGET', KEYS[1], 'req')
if req then redis.call('PEXPIRE', req, ARGV[2]) end
return 1
`)

// Renew implements [Log]: one pipeline for all ids.
func (r *Redis) Renew(ctx context.Context, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	// Load the script first so that the pipeline can use EVALSHA.
	if err := renewScript.Load(ctx, r.rdb).Err(); err != nil {
		return fmt.Errorf("eventlog: renew: %w", err)
	}
	_, err := r.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range ids {
			k := r.keys(id)
			renewScript.EvalSha(ctx, p, []string{k.meta, k.events, k.lease}, r.lease.Milliseconds(), r.ttl())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("eventlog: renew: %w", err)
	}
	return nil
}

// scriptError maps a script's negative answer to an error.
func scriptError(n int64) error {
	switch n {
	case 1:
		return nil
	case -1:
		return ErrNotFound
	case -2:
		return ErrEnded
	case -3:
		return ErrSequence
	}
	return fmt.Errorf("eventlog: unexpected script answer %d", n)
}
