// Package redisbudget keeps the provider budgets of package limiter in
// Redis, so that every replica of a service spending one provider key
// admits its calls against the same budgets: what one replica learns (a
// limit, what is left, a reset, a Retry-After pause, a cooldown) paces
// every replica, and the in-flight cap per provider key holds over all of
// them.
//
// A [Store] is a [limiter.Store]. Admitting a call is one round trip: one
// Lua script that reads the call's model key and provider key (and the
// key's pool, once a replica has learned that the key's models share the
// budgets they announce per model: the learned scope is stored with the
// provider key, so every replica pools from then on), decides as the
// in-memory limiter does, and books the call, atomically. Ending a call
// is another, which applies what the answer announced. Each admitted call
// holds a lease on its in-flight slot, renewed while the call runs, so the
// slots of a replica that dies free themselves within [Options.LeaseTTL].
//
// When Redis does not answer, the Store says so at once and the limiter
// admits calls from its own state: the Store logs the outage once, counts
// every such call in the council.limiter.fallbacks metric, asks nothing of
// Redis until a ping answers again (every [Options.RetryEvery]), and then
// logs that it rejoined. No call waits on Redis longer than the client's
// timeouts.
package redisbudget

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/hex"
	"errors"
	"github.com/councilhq/council/outbound/event"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/councilhq/council/limiter"
)

var (
	//go:embed budget.lua
	budgetLua string
	//go:embed admit.lua
	admitLua string
	//go:embed settle.lua
	settleLua string
	//go:embed cool.lua
	coolLua string
	//go:embed release.lua
	releaseLua string

	admitScript   = redis.NewScript(budgetLua + admitLua)
	settleScript  = redis.NewScript(budgetLua + settleLua)
	coolScript    = redis.NewScript(coolLua)
	releaseScript = redis.NewScript(releaseLua)
	scripts       = []*redis.Script{admitScript, settleScript, coolScript, releaseScript}
)

// Metric names.
const (
	// MetricFallbacks counts the calls the replica's own limiter admitted
	// because Redis did not answer.
	MetricFallbacks = "council.limiter.fallbacks"
	// MetricShared is 1 while the replica shares its budgets through
	// Redis, 0 while it limits on its own.
	MetricShared = "council.limiter.shared"
)

// Defaults of [Options].
const (
	DefaultPrefix     = "council:limiter:"
	DefaultLeaseTTL   = 10 * time.Second
	DefaultKeyTTL     = time.Hour
	DefaultRetryEvery = time.Second
	DefaultTimeout    = 500 * time.Millisecond
)

// ErrUnavailable is returned while Redis does not answer.
var ErrUnavailable = errors.New("redisbudget: redis unavailable")

// Options configures a [Store]. The zero value takes every default.
type Options struct {
	// Prefix starts every key the Store writes. Default [DefaultPrefix].
	Prefix string
	// LeaseTTL is how long an in-flight slot stays taken after its
	// replica stops renewing it (a third of it apart). Default
	// [DefaultLeaseTTL].
	LeaseTTL time.Duration
	// KeyTTL is how long a key's budget is kept after its last call.
	// Default [DefaultKeyTTL].
	KeyTTL time.Duration
	// RetryEvery is how often Redis is pinged while it does not answer.
	// Default [DefaultRetryEvery].
	RetryEvery time.Duration
	// Timeout bounds each round trip. Default [DefaultTimeout].
	Timeout time.Duration
	// Now is the clock the leases are renewed by; it must be the
	// limiter's ([limiter.WithClock]). Default: time.Now.
	Now func() time.Time
	// Logger logs the outages and the rejoins. Default: slog.Default().
	Logger *slog.Logger
	// MeterProvider records [MetricFallbacks] and [MetricShared].
	// Default: no metrics.
	MeterProvider metric.MeterProvider
}

// Store is a [limiter.Store] in Redis. Close it to stop renewing leases.
type Store struct {
	rdb     *redis.Client
	o       Options
	replica string
	n       atomic.Uint64

	down      atomic.Bool
	fallbacks metric.Int64Counter
	gauge     metric.Registration

	mu   sync.Mutex
	held map[*lease]struct{}

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup // releases under way
}

var _ limiter.Store = (*Store)(nil)

// lease is one admitted call's hold on its scopes: its model key, its
// provider key and, when the key's models share their budgets, the key's
// pool.
type lease struct {
	keys    [6]string // model hash, model set, provider hash, provider set, pool hash, pool set
	members [3]string // in the model set, in the provider set, in the pool set ("" when not pooled)
}

// New returns a Store sharing budgets through rdb and starts its renewal
// of leases. It does not connect: the first call does.
func New(rdb *redis.Client, o Options) (*Store, error) {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.KeyTTL <= 0 {
		o.KeyTTL = DefaultKeyTTL
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = DefaultRetryEvery
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MeterProvider == nil {
		o.MeterProvider = noop.NewMeterProvider()
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	s := &Store{rdb: rdb, o: o, replica: hex.EncodeToString(id[:]), held: make(map[*lease]struct{}),
		stop: make(chan struct{}), done: make(chan struct{})}
	m := o.MeterProvider.Meter("github.com/councilhq/council/limiter/redisbudget")
	var err error
	s.fallbacks, err = m.Int64Counter(MetricFallbacks,
		metric.WithDescription("Calls admitted by the replica's own limiter because Redis did not answer."),
		metric.WithUnit("{call}"))
	if err != nil {
		return nil, err
	}
	shared, err := m.Int64ObservableGauge(MetricShared,
		metric.WithDescription("1 while the replica shares its provider budgets through Redis, 0 while it limits on its own."))
	if err != nil {
		return nil, err
	}
	s.gauge, err = m.RegisterCallback(func(_ context.Context, ob metric.Observer) error {
		v := int64(1)
		if s.down.Load() {
			v = 0
		}
		ob.ObserveInt64(shared, v)
		return nil
	}, shared)
	if err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// load loads the scripts into Redis, so that the first calls do not each
// send them.
func (s *Store) load() {
	ctx, cancel := context.WithTimeout(context.Background(), 4*s.o.Timeout)
	defer cancel()
	for _, sc := range scripts {
		_ = sc.Load(ctx, s.rdb).Err()
	}
}

// Close stops the renewal of leases (the leases then expire) and the
// metric callback. It does not close the Redis client. Close is
// idempotent.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.wg.Wait()
		err = s.gauge.Unregister()
	})
	return err
}

// Shared reports whether the Store shares budgets through Redis now.
func (s *Store) Shared() bool { return !s.down.Load() }

// keys names the hashes and sets of a call's model key, provider key and
// the key's pool.
func (s *Store) keys(modelKey, providerKey string) [6]string {
	m := s.modelHash(modelKey)
	p := s.o.Prefix + "p:" + providerKey
	k := s.o.Prefix + "k:" + providerKey
	return [6]string{m, m + ":out", p, p + ":out", k, k + ":out"}
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// Admit implements [limiter.Store].
func (s *Store) Admit(ctx context.Context, c limiter.StoreCall, now time.Time) (limiter.Verdict, error) {
	if s.down.Load() {
		s.fallbacks.Add(ctx, 1)
		return limiter.Verdict{}, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	l := &lease{keys: s.keys(c.ModelKey, c.ProviderKey)}
	id := s.replica + "-" + strconv.FormatUint(s.n.Add(1), 36)
	t := ms(now)
	args := []any{t, t + s.o.LeaseTTL.Milliseconds(), s.o.KeyTTL.Milliseconds(), c.MaxInFlight, id,
		c.Cost[0], c.Cost[1], c.Cost[2], c.Cost[3], b2i(c.Pooled)}
	res, err := admitScript.Run(ctx, s.rdb, l.keys[:], args...).Slice()
	if err != nil {
		if s.failed(ctx, err) {
			s.fallbacks.Add(ctx, 1)
		}
		// Redis may have admitted the call all the same.
		s.wg.Go(func() { s.release(l, id) })
		return limiter.Verdict{}, err
	}
	switch code, _ := res[0].(int64); code {
	case 1:
		l.members[0], _ = res[1].(string)
		l.members[1], _ = res[2].(string)
		l.members[2], _ = res[3].(string)
		s.mu.Lock()
		s.held[l] = struct{}{}
		s.mu.Unlock()
		return limiter.Verdict{Admitted: true, Lease: l}, nil
	case 2:
		end, _ := res[1].(int64)
		return limiter.Verdict{Cooldown: max(time.UnixMilli(end).Sub(now), time.Millisecond)}, nil
	default:
		until, _ := res[1].(int64)
		inFlight, _ := res[2].(int64)
		v := limiter.Verdict{InFlight: inFlight == 1}
		if until > 0 {
			v.Until = time.UnixMilli(until)
		}
		return v, nil
	}
}

// Settle implements [limiter.Store].
func (s *Store) Settle(ctx context.Context, ls limiter.Lease, st limiter.Settlement) error {
	l, ok := ls.(*lease)
	if !ok {
		return errors.New("redisbudget: not a lease of this store")
	}
	s.mu.Lock()
	delete(s.held, l)
	s.mu.Unlock()
	if s.down.Load() {
		return ErrUnavailable // the lease expires
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	limited := 0
	if st.Limited {
		limited = 1
	}
	args := []any{ms(st.Sent), ms(st.Done), s.o.KeyTTL.Milliseconds(), l.members[0], l.members[1], limited, ms(st.RetryAt)}
	for _, q := range append(st.Quotas[:], st.Shared) {
		args = append(args, b2i(q.Announced), q.Limit, q.Remaining, ms(q.Reset), b2i(q.Relative))
	}
	scope := 0
	switch st.Scope {
	case event.ScopePerKey:
		scope = 1
	case event.ScopePerModel:
		scope = 2
	}
	args = append(args, l.members[2], ms(st.PoolRetryAt), scope, ms(st.Date))
	err := settleScript.Run(ctx, s.rdb, l.keys[:], args...).Err()
	if err != nil {
		s.failed(ctx, err)
		// Free the slots now if Redis answers again soon; else the
		// lease expires.
		id := l.members[1][strings.LastIndexByte(l.members[1], ':')+1:]
		s.wg.Go(func() { s.release(l, id) })
	}
	return err
}

// release frees the slots a lease may hold after its admission was not
// heard back; if Redis does not answer, the lease expires.
func (s *Store) release(l *lease, id string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	_ = releaseScript.Run(ctx, s.rdb, []string{l.keys[1], l.keys[3]}, id).Err()
}

// CoolDown implements [limiter.Store].
func (s *Store) CoolDown(ctx context.Context, modelKey string, until time.Time) error {
	if s.down.Load() {
		return ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	err := coolScript.Run(ctx, s.rdb, []string{s.modelHash(modelKey)}, ms(until), s.o.KeyTTL.Milliseconds()).Err()
	if err != nil {
		s.failed(ctx, err)
	}
	return err
}

// modelHash names the hash of a model key's budget and cooldown.
func (s *Store) modelHash(modelKey string) string { return s.o.Prefix + "m:" + modelKey }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// failed books a failed round trip: unless the caller's context ended, it
// marks Redis down (logging it once) and reports true.
func (s *Store) failed(ctx context.Context, err error) bool {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return false // the caller went away
	}
	if s.down.CompareAndSwap(false, true) {
		s.o.Logger.Warn("redis does not answer; limiting provider calls on this replica's own budgets until it does", "err", err)
	}
	return true
}

// run renews the leases of the calls in flight while Redis answers, and
// pings it while it does not, until Close.
func (s *Store) run() {
	defer close(s.done)
	s.load()
	renew := time.NewTicker(s.o.LeaseTTL / 3)
	defer renew.Stop()
	retry := time.NewTicker(s.o.RetryEvery)
	defer retry.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-renew.C:
			if !s.down.Load() {
				s.renew()
			}
		case <-retry.C:
			if s.down.Load() {
				s.ping()
			}
		}
	}
}

// renew extends the leases of the calls in flight by LeaseTTL.
func (s *Store) renew() {
	s.mu.Lock()
	ls := make([]*lease, 0, len(s.held))
	for l := range s.held {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	if len(ls) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	expiry := float64(s.o.Now().Add(s.o.LeaseTTL).UnixMilli())
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, l := range ls {
			p.ZAddXX(ctx, l.keys[1], redis.Z{Score: expiry, Member: l.members[0]})
			p.ZAddXX(ctx, l.keys[3], redis.Z{Score: expiry, Member: l.members[1]})
			if l.members[2] != "" {
				p.ZAddXX(ctx, l.keys[5], redis.Z{Score: expiry, Member: l.members[2]})
			}
		}
		return nil
	})
	if err != nil {
		s.failed(ctx, err)
	}
}

// ping checks whether Redis answers again, and rejoins if so.
func (s *Store) ping() {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.Timeout)
	defer cancel()
	if s.rdb.Ping(ctx).Err() != nil {
		return
	}
	if s.down.CompareAndSwap(true, false) {
		defer s.load()
		s.o.Logger.Info("redis answers again; sharing provider budgets")
	}
}
