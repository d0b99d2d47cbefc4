package budget

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// maxTracked bounds the callers whose last status [Budgets.Remaining]
// reports, so that memory does not grow with the number of callers.
const maxTracked = 1024

// Budgets enforces a [Config] over a [Store]. It is safe for concurrent use.
type Budgets struct {
	cfg   Config
	store Store
	local *Memory // counts what the store failed to take
	now   func() time.Time
	log   *slog.Logger
	// failing is true from a store failure to the next success, so that
	// an outage is logged once and its end once.
	failing atomic.Bool

	mu   sync.Mutex
	last map[string]Status // by caller, for Remaining
}

// Option configures [Budgets].
type Option func(*Budgets)

// WithClock sets the clock periods are read from. Default time.Now; nil is
// ignored.
func WithClock(now func() time.Time) Option {
	return func(b *Budgets) {
		if now != nil {
			b.now = now
		}
	}
}

// WithLogger sets where store failures are logged: the first of an
// outage as a warning, and the first success after it. Default
// slog.Default(); nil is ignored.
func WithLogger(l *slog.Logger) Option {
	return func(b *Budgets) {
		if l != nil {
			b.log = l
		}
	}
}

// New returns Budgets enforcing cfg over store; a nil store means a
// [Memory] of its own.
func New(cfg Config, store Store, opts ...Option) *Budgets {
	b := &Budgets{cfg: cfg, now: time.Now, log: slog.Default(), last: make(map[string]Status)}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	b.local = NewMemory(b.now)
	if store == nil {
		store = NewMemory(b.now)
	}
	b.store = store
	return b
}

// Status is a caller's budget in the current period.
type Status struct {
	// Caller is the caller's identity.
	Caller string
	// Budget names the budget that applies: the caller's own (named after
	// the caller) or [DefaultName]; "" when none does, and then the other
	// fields are zero.
	Budget string
	Limit  Limit
	// SpentUSD is what the caller spent in the period, as recorded by
	// every replica sharing the store (and by this one while the store
	// failed).
	SpentUSD float64
	// PeriodStart and ResetAt bound the current period.
	PeriodStart, ResetAt time.Time
	// ResetIn is the time left until ResetAt.
	ResetIn time.Duration
}

// Limited reports whether a budget applies.
func (s Status) Limited() bool { return s.Budget != "" }

// RemainingUSD is what is left of the budget, 0 once it is spent.
func (s Status) RemainingUSD() float64 { return max(0, s.Limit.USD-s.SpentUSD) }

// ExceededError refuses a caller whose budget is spent, or whose
// remaining budget is below MinimumUSD, the estimate of the cheapest plan
// of the consultation it asked for.
type ExceededError struct {
	Status Status
	// MinimumUSD is zero when the budget is spent outright.
	MinimumUSD float64
}

func (e *ExceededError) Error() string {
	s := e.Status
	if e.MinimumUSD > 0 {
		return fmt.Sprintf("budget: %s's remaining %s budget %q of $%.6f is below the cheapest plan's $%.6f; it resets at %s",
			s.Caller, s.Limit.Period, s.Budget, s.RemainingUSD(), e.MinimumUSD, s.ResetAt.Format(time.RFC3339))
	}
	return fmt.Sprintf("budget: %s spent $%.6f of its %s budget %q of $%.6f; it resets at %s",
		s.Caller, s.SpentUSD, s.Limit.Period, s.Budget, s.Limit.USD, s.ResetAt.Format(time.RFC3339))
}

// status returns caller's status with the given spend.
func (b *Budgets) status(caller string, l Limit, name string, spent float64, now time.Time) Status {
	start, end := l.Period.bounds(now)
	return Status{Caller: caller, Budget: name, Limit: l, SpentUSD: spent, PeriodStart: start, ResetAt: end, ResetIn: end.Sub(now)}
}

// key is the store key of caller's spend in the period starting at start.
func key(caller string, p Period, start time.Time) string {
	return caller + ":" + p.String() + ":" + start.Format("2006-01-02")
}

// Status returns caller's budget and spend now. A store that fails is
// logged, and the spend this replica recorded itself meanwhile is used.
func (b *Budgets) Status(ctx context.Context, caller string) Status {
	l, name, ok := b.cfg.lookup(caller)
	if !ok {
		return Status{Caller: caller}
	}
	now := b.now()
	start, _ := l.Period.bounds(now)
	k := key(caller, l.Period, start)
	spent, err := b.store.Spent(ctx, k)
	b.noteStore(ctx, err)
	if err != nil {
		spent = 0
	}
	own, _ := b.local.Spent(ctx, k)
	st := b.status(caller, l, name, spent+own, now)
	b.remember(st)
	return st
}

// Check returns caller's status, or an [*ExceededError] when its budget is
// spent. A caller without a budget always passes.
func (b *Budgets) Check(ctx context.Context, caller string) (Status, error) {
	st := b.Status(ctx, caller)
	if st.Limited() && st.RemainingUSD() <= 0 {
		return st, &ExceededError{Status: st}
	}
	return st, nil
}

// Record adds usd, the actual cost of a consultation, to caller's spend in
// the current period and returns the status after it. Nothing is recorded
// for a caller without a budget, or for a cost of zero or less. When the
// store fails the failure is logged and the cost is counted in this
// replica's memory instead.
func (b *Budgets) Record(ctx context.Context, caller string, usd float64) Status {
	l, name, ok := b.cfg.lookup(caller)
	if !ok {
		return Status{Caller: caller}
	}
	if usd <= 0 {
		return b.Status(ctx, caller)
	}
	now := b.now()
	start, end := l.Period.bounds(now)
	k := key(caller, l.Period, start)
	total, err := b.store.Add(ctx, k, usd, end)
	b.noteStore(ctx, err)
	if err != nil {
		total = 0 // what other replicas spent is unknown until the store answers
		_, _ = b.local.Add(ctx, k, usd, end)
	}
	own, _ := b.local.Spent(ctx, k)
	st := b.status(caller, l, name, total+own, now)
	b.remember(st)
	return st
}

// noteStore logs the start and the end of a store outage.
func (b *Budgets) noteStore(ctx context.Context, err error) {
	switch {
	case err != nil && !b.failing.Swap(true):
		b.log.WarnContext(ctx, "budget store failed; each replica counts the spend it records until it answers", "err", err)
	case err == nil && b.failing.Swap(false):
		b.log.InfoContext(ctx, "budget store answers again")
	}
}

// remember keeps st for Remaining, for at most maxTracked callers.
func (b *Budgets) remember(st Status) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.last[st.Caller]; ok || len(b.last) < maxTracked {
		b.last[st.Caller] = st
	}
}

// Remaining returns, by caller, what remains of the budget of every caller
// with a budget this replica has checked or charged (up to 1024 callers), as
// of the last time it did; a budget whose period has ended since then is
// reported whole.
func (b *Budgets) Remaining() map[string]float64 {
	now := b.now()
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]float64, len(b.last))
	for caller, st := range b.last {
		if !now.Before(st.ResetAt) {
			out[caller] = st.Limit.USD
			continue
		}
		out[caller] = st.RemainingUSD()
	}
	return out
}
