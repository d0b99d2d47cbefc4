package consultation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/councilhq/council/eventlog"
)

// Defaults.
const (
	// DefaultDetachedGrace is how long a consultation with a request id
	// keeps running after its client went away with no one watching.
	DefaultDetachedGrace = 60 * time.Second
	// LogRetryAfter is how long new consultations skip a log that failed.
	LogRetryAfter = 5 * time.Second
	// readBatch is the most events one read of the log returns.
	readBatch = 64
)

var (
	// ErrNotFound: no consultation has the id for this owner, or its log
	// has expired.
	ErrNotFound = errors.New("consultation: not found")
	// ErrLost: the replica that ran the consultation stopped renewing
	// its lease before it ended.
	ErrLost = errors.New("consultation: lost with the replica that ran it")
	// ErrConflict: the request id was used by the same owner for a
	// different request.
	ErrConflict = errors.New("consultation: request id already used for another request")
	// ErrUnavailable: the event log cannot be read.
	ErrUnavailable = errors.New("consultation: event log unavailable")
	// ErrAbandoned is the cause a detached consultation is cancelled with
	// when its grace ran out with no one watching. It wraps
	// context.Canceled.
	ErrAbandoned = fmt.Errorf("consultation: detached and not watched: %w", context.Canceled)
)

// Config configures a [Manager].
type Config struct {
	// DetachedGrace is how long a consultation with a request id keeps
	// running after its client went away; zero cancels it at once.
	DetachedGrace time.Duration
	// RenewEvery is how often the leases of running consultations are
	// renewed; a third of the log's lease. Zero or less: every 3 s.
	RenewEvery time.Duration
	// Logger logs failures of the log. Default slog.Default().
	Logger *slog.Logger
}

// Spec identifies a consultation to run.
type Spec struct {
	// ID is the new consultation's id.
	ID string
	// Owner is the caller's identity; only the same owner may watch it
	// or repeat its request id. Empty when callers are not told apart.
	Owner string
	// RequestID is the client's request id; empty means none: the
	// consultation is neither idempotent nor detachable.
	RequestID string
	// Fingerprint identifies the request's content.
	Fingerprint string
}

// RunFunc runs a consultation under ctx, passing each event to emit in
// sequence order from one goroutine, and returns its encoded final status.
// emit's error means the consultation was cancelled and should stop.
type RunFunc func(ctx context.Context, emit func(eventlog.Entry) error) []byte

// DeliverFunc sends an event to the client; an error means the client is
// gone.
type DeliverFunc func(eventlog.Entry) error

// Manager runs and follows consultations through an event log. It is safe
// for concurrent use.
type Manager struct {
	log    eventlog.Log
	cfg    Config
	logger *slog.Logger

	mu       sync.Mutex
	running  map[*running]struct{}
	draining error

	// logDown is when the log last failed, in Unix nanoseconds; zero when
	// it works.
	logDown atomic.Int64
}

// running is one consultation running here.
type running struct {
	id         string
	detachable bool
	cancel     context.CancelCauseFunc

	mu       sync.Mutex
	logged   bool // its events are in the log
	detached bool
	done     bool
	grace    *time.Timer
}

// New returns a Manager over log.
func New(log eventlog.Log, cfg Config) (*Manager, error) {
	if log == nil {
		return nil, errors.New("consultation: nil log")
	}
	if cfg.DetachedGrace < 0 {
		cfg.DetachedGrace = 0
	}
	if cfg.RenewEvery <= 0 {
		cfg.RenewEvery = 3 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &Manager{log: log, cfg: cfg, logger: logger, running: make(map[*running]struct{})}, nil
}

// Run renews the leases of the consultations running here until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.RenewEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids := m.loggedIDs()
		if len(ids) == 0 {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, m.cfg.RenewEvery)
		err := m.log.Renew(rctx, ids)
		cancel()
		m.logResult(err)
	}
}

// loggedIDs lists the running consultations whose events are in the log.
func (m *Manager) loggedIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.running))
	for r := range m.running {
		r.mu.Lock()
		if r.logged {
			ids = append(ids, r.id)
		}
		r.mu.Unlock()
	}
	return ids
}

// CancelAll cancels every consultation running here with cause, and every
// later one as soon as its client goes away. The server calls it when its
// drain timeout runs out.
func (m *Manager) CancelAll(cause error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.draining = cause
	for r := range m.running {
		r.cancel(cause)
	}
}

// Consult runs the consultation of spec with run, delivering its events to
// the caller, or, when spec.Owner already used spec.RequestID within the
// retention for the same request, follows that consultation from its first
// event. It returns the encoded final status once the consultation has
// ended, whether or not the client stayed; ErrConflict when the request id
// was used for another request; an error wrapping ErrNotFound, ErrLost or
// ErrUnavailable when the consultation it follows cannot be followed to its
// end; or ctx's cause when the client of a followed consultation leaves.
func (m *Manager) Consult(ctx context.Context, spec Spec, run RunFunc, deliver DeliverFunc) ([]byte, error) {
	logged := false
	if m.logUsable() {
		info, created, err := m.log.Create(ctx, eventlog.Info{
			ID: spec.ID, Owner: spec.Owner, RequestID: spec.RequestID, Fingerprint: spec.Fingerprint,
		})
		switch {
		case err != nil:
			m.logResult(err)
		case !created && info.Fingerprint != spec.Fingerprint:
			return nil, ErrConflict
		case !created:
			return m.Follow(ctx, info.ID, spec.Owner, 0, deliver)
		default:
			m.logResult(nil)
			logged = true
		}
	}
	return m.runHere(ctx, spec, logged, run, deliver), nil
}

// runHere runs a new consultation in this goroutine.
func (m *Manager) runHere(ctx context.Context, spec Spec, logged bool, run RunFunc, deliver DeliverFunc) []byte {
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	r := &running{id: spec.ID, detachable: spec.RequestID != "", cancel: cancel, logged: logged}
	m.mu.Lock()
	if m.draining != nil {
		cancel(m.draining)
	}
	m.running[r] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.running, r)
		m.mu.Unlock()
	}()
	stop := context.AfterFunc(ctx, func() { m.detach(r, context.Cause(ctx)) })
	defer stop()

	end := run(runCtx, func(e eventlog.Entry) error {
		if r.isLogged() {
			if err := m.log.Append(runCtx, spec.ID, e); err != nil {
				m.unlog(r, err)
			}
		}
		if r.isAttached() {
			if err := deliver(e); err != nil {
				cause := context.Cause(ctx)
				if cause == nil {
					cause = fmt.Errorf("%w: %w", context.Canceled, err)
				}
				m.detach(r, cause)
			}
		}
		if runCtx.Err() != nil {
			return context.Cause(runCtx)
		}
		return nil
	})
	r.finish()
	if r.isLogged() {
		// The log outlives the client's call: record the end even when
		// the client has gone.
		ectx, ecancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err := m.log.End(ectx, spec.ID, end)
		ecancel()
		if err != nil {
			m.unlog(r, err)
		}
	}
	return end
}

// detach handles the client of r going away for cause.
func (m *Manager) detach(r *running, cause error) {
	m.mu.Lock()
	draining := m.draining
	m.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.detached || r.done {
		return
	}
	r.detached = true
	switch {
	case draining != nil:
		r.cancel(draining)
	case !r.detachable || !r.logged || m.cfg.DetachedGrace <= 0:
		r.cancel(cause)
	default:
		r.grace = time.AfterFunc(m.cfg.DetachedGrace, func() { m.graceOver(r) })
	}
}

// graceOver cancels a detached consultation no one watches, or waits
// another grace if someone does.
func (m *Manager) graceOver(r *running) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	watched, err := m.log.Watched(ctx, r.id)
	cancel()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done {
		return
	}
	if err == nil && watched && r.logged {
		r.grace.Reset(m.cfg.DetachedGrace)
		return
	}
	r.cancel(ErrAbandoned)
}

// unlog stops recording r after the log failed: it can no longer be
// followed, and since its lease is no longer renewed, watchers elsewhere
// learn it is lost. A detached consultation no one can follow is
// cancelled.
func (m *Manager) unlog(r *running, err error) {
	m.logResult(err)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logged = false
	if r.detached && !r.done {
		r.cancel(ErrAbandoned)
	}
}

func (r *running) isLogged() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.logged
}

func (r *running) isAttached() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.detached
}

// finish marks r ended and stops its grace timer.
func (r *running) finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.done = true
	if r.grace != nil {
		r.grace.Stop()
	}
}

// Follow delivers the events of consultation id after sequence after,
// replaying what the log holds and then following it live, and returns its
// encoded final status. It returns an error wrapping ErrNotFound when the
// log has no such consultation or owner is not its owner; ErrLost when the
// consultation's replica died before it ended; ErrUnavailable when the log
// cannot be read; deliver's error; or ctx's cause.
func (m *Manager) Follow(ctx context.Context, id, owner string, after uint64, deliver DeliverFunc) ([]byte, error) {
	seen := false
	for {
		b, err := m.log.Read(ctx, id, after, readBatch, eventlog.MaxWait)
		switch {
		case ctx.Err() != nil:
			return nil, context.Cause(ctx)
		case errors.Is(err, eventlog.ErrNotFound) && seen:
			// The log vanished under us: Redis lost it.
			return nil, ErrLost
		case errors.Is(err, eventlog.ErrNotFound):
			return nil, ErrNotFound
		case err != nil:
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case b.Owner != owner:
			return nil, ErrNotFound
		}
		seen = true
		for _, e := range b.Entries {
			if err := deliver(e); err != nil {
				return nil, err
			}
			after = e.Seq
		}
		switch {
		case b.Ended:
			return b.End, nil
		case b.Lost:
			return nil, ErrLost
		}
	}
}

// logUsable reports whether new consultations should use the log: it has
// not failed in the last LogRetryAfter.
func (m *Manager) logUsable() bool {
	down := m.logDown.Load()
	return down == 0 || time.Since(time.Unix(0, down)) >= LogRetryAfter
}

// logResult records whether the log worked, logging when it starts or
// stops failing.
func (m *Manager) logResult(err error) {
	if err == nil {
		if m.logDown.Swap(0) != 0 {
			m.logger.Info("event log works again; consultations are recorded")
		}
		return
	}
	if m.logDown.Swap(time.Now().UnixNano()) == 0 {
		m.logger.Warn("event log failed; consultations run unrecorded (they cannot be watched) until it works again",
			"err", err, "retry_after", LogRetryAfter)
	}
}
