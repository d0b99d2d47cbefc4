package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	middleware "github.com/grpc-ecosystem/go-grpc-middleware/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/tap"

	adaptive "github.com/councilhq/council/admission"
	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// admissionRetryDelay is the wait a refused caller is told to respect
// before trying again.
const admissionRetryDelay = time.Second

// errShuttingDown is the cause a consultation is cancelled with when the
// server stops before it has finished; toStatus maps it to Unavailable.
var errShuttingDown = errors.New("server: shutting down")

// overloadError is a consultation refused because too many are running,
// overall or for its caller.
type overloadError struct {
	// caller is the caller's identity, or "" when a server-wide limit
	// was reached.
	caller string
	limit  int
	// adaptive is true when the adaptive limit, not a configured one,
	// was reached.
	adaptive bool
}

func (e *overloadError) Error() string {
	if e.adaptive {
		return fmt.Sprintf("server: adaptive admission limit of %d consultations reached", e.limit)
	}
	if e.caller == "" {
		return fmt.Sprintf("server: %d consultations already running", e.limit)
	}
	return fmt.Sprintf("server: caller %s already runs %d consultations", e.caller, e.limit)
}

// admission bounds the consultations running at once, overall and per
// caller, and under the adaptive limit when there is one; it keeps a cancel
// function for each running one so that a shutdown can end them with a
// clear status.
type admission struct {
	max        int
	perCaller  int                  // 0: no per-caller limit
	controller *adaptive.Controller // nil: no adaptive limit

	mu       sync.Mutex
	running  int
	byCaller map[string]int
	cancels  map[*ticket]context.CancelCauseFunc
	draining bool
}

// ticket identifies one admitted consultation.
type ticket struct{ caller string }

// newAdmission returns the admission control of o: the configured caps,
// and the adaptive limit under them when o turns it on.
func newAdmission(o options) (*admission, error) {
	a := &admission{
		max:       o.maxConsultations,
		perCaller: o.maxPerCaller,
		byCaller:  make(map[string]int),
		cancels:   make(map[*ticket]context.CancelCauseFunc),
	}
	if aa := o.adaptive; aa != nil {
		c, err := adaptive.NewController(adaptive.Config{
			Max:       o.maxConsultations,
			Min:       min(aa.Min, o.maxConsultations),
			Initial:   aa.Initial,
			Tolerance: aa.Tolerance,
		}, aa.Window)
		if err != nil {
			return nil, err
		}
		a.controller = c
	}
	return a, nil
}

// run updates the adaptive limit, if any, until ctx ends.
func (a *admission) run(ctx context.Context) {
	if a.controller != nil {
		a.controller.Run(ctx)
	}
}

// limit is the number of consultations admitted at once now.
func (a *admission) limit() int {
	if a.controller != nil {
		return a.controller.Limit()
	}
	return a.max
}

// inFlight is the number of consultations running now.
func (a *admission) inFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// acquire admits a consultation of caller whose context cancel ends, or
// returns why it cannot run.
func (a *admission) acquire(caller string, cancel context.CancelCauseFunc) (*ticket, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.draining:
		return nil, errShuttingDown
	case a.running >= a.max:
		return nil, &overloadError{limit: a.max}
	case a.perCaller > 0 && a.byCaller[caller] >= a.perCaller:
		return nil, &overloadError{caller: caller, limit: a.perCaller}
	case a.controller != nil && !a.controller.Acquire():
		return nil, &overloadError{limit: a.controller.Limit(), adaptive: true}
	}
	t := &ticket{caller: caller}
	a.running++
	a.byCaller[caller]++
	a.cancels[t] = cancel
	return t, nil
}

// release ends an admitted consultation.
func (a *admission) release(t *ticket) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.running--
	if a.controller != nil {
		a.controller.Release()
	}
	if a.byCaller[t.caller]--; a.byCaller[t.caller] == 0 {
		delete(a.byCaller, t.caller)
	}
	delete(a.cancels, t)
}

// drain refuses new consultations and cancels the running ones with
// errShuttingDown as the cause.
func (a *admission) drain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.draining = true
	for _, cancel := range a.cancels {
		cancel(errShuttingDown)
	}
}

// full returns why a consultation would be refused now for the
// server-wide limits, or nil; it takes nothing.
func (a *admission) full() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.draining:
		return errShuttingDown
	case a.running >= a.max:
		return &overloadError{limit: a.max}
	case a.controller != nil && a.controller.InFlight() >= a.controller.Limit():
		return &overloadError{limit: a.controller.Limit(), adaptive: true}
	}
	return nil
}

// tap refuses a Consult call while the server-wide limits are reached, as
// soon as its headers arrive: in the transport, before the call gets a
// goroutine, interceptors, logs or spans, so that shedding costs next to
// nothing under the load that calls for it. The stream interceptor still
// decides every call that passes, with the caller's own limit.
func (a *admission) tap(ctx context.Context, info *tap.Info) (context.Context, error) {
	if info.FullMethodName != councilv1.Council_Consult_FullMethodName {
		return ctx, nil
	}
	if err := a.full(); err != nil {
		return ctx, toStatus(err)
	}
	return ctx, nil
}

// streamInterceptor admits Consult calls and passes other calls through.
// A consultation cut short by drain ends with the shutdown status, whatever
// error the handler returned.
func (a *admission) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if info.FullMethod != councilv1.Council_Consult_FullMethodName {
		return handler(srv, ss)
	}
	ctx, cancel := context.WithCancelCause(ss.Context())
	defer cancel(nil)
	t, err := a.acquire(callerOf(ctx), cancel)
	if err != nil {
		return toStatus(err)
	}
	defer a.release(t)
	err = handler(srv, &middleware.WrappedServerStream{ServerStream: ss, WrappedContext: ctx})
	if err != nil && errors.Is(context.Cause(ctx), errShuttingDown) {
		return toStatus(errShuttingDown)
	}
	return err
}
