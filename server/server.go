package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/eventlog"
	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// cancelGrace is how long Serve waits, after cancelling the consultations
// still running at the drain timeout, for their statuses to reach the
// clients before it closes every connection.
const cancelGrace = 2 * time.Second

// Server serves the council.v1.Council API, the health service and server
// reflection on one grpc.Server.
type Server struct {
	grpc          *grpc.Server
	health        *health.Server
	admission     *admission
	consultations *consultation.Manager
	watches       *watches
	log           *slog.Logger
	drainTimeout  time.Duration
}

// New returns a Server whose Consult calls go to c. It returns an error when
// c is nil.
func New(c Consulter, opts ...Option) (*Server, error) {
	if c == nil {
		return nil, errors.New("server: nil Consulter")
	}
	o := newOptions(opts)
	var tokens *tokenSet
	if o.bearerAuth {
		var err error
		if tokens, err = newTokenSet(o.bearerTokens); err != nil {
			return nil, err
		}
	}
	adm, err := newAdmission(o)
	if err != nil {
		return nil, err
	}
	if o.consultations == nil {
		if o.consultations, err = consultation.New(eventlog.NewMemory(eventlog.DefaultRetention), consultation.Config{
			DetachedGrace: consultation.DefaultDetachedGrace,
			Logger:        o.logger,
		}); err != nil {
			return nil, err
		}
	}
	svc := &service{
		admission:     adm,
		consulter:     c,
		consultations: o.consultations,
		watches:       newWatches(),
		log:           o.logger,
		tiers:         o.tiers,
		defaultTier:   o.defaultTier,
		maxDuration:   o.maxConsultDuration,
		stats:         o.stats,
		catalog:       o.catalog,
		tierCost:      o.tierCost,
		budgets:       o.budgets,
	}
	s := &Server{
		grpc:          newGRPCServer(o, tokens, adm),
		admission:     adm,
		consultations: o.consultations,
		watches:       svc.watches,
		health:        health.NewServer(),
		log:           o.logger,
		drainTimeout:  o.drainTimeout,
	}
	councilv1.RegisterCouncilServer(s.grpc, svc)
	healthpb.RegisterHealthServer(s.grpc, s.health)
	// Reflection lets tools such as grpcurl list and describe the API
	// without proto files.
	if o.reflection {
		reflection.Register(s.grpc)
	}
	return s, nil
}

// AdmissionLimit is the number of consultations the server admits at once
// now: the adaptive limit when it is on (see [WithAdaptiveAdmission]), else
// the configured maximum.
func (s *Server) AdmissionLimit() int { return s.admission.limit() }

// ConsultationsInFlight is the number of consultations running now.
func (s *Server) ConsultationsInFlight() int { return s.admission.inFlight() }

// Serve accepts connections on lis and blocks until ctx ends or serving
// fails. It reports SERVING for "" and council.v1.Council while it runs.
// When ctx ends it reports NOT_SERVING, lets in-flight calls finish for up
// to the drain timeout (see [WithDrainTimeout]), then cancels the rest and
// returns nil: a consultation cancelled this way ends with Unavailable and
// the reason SHUTTING_DOWN. Watch calls end at once with Unavailable and
// the reason REPLICA_DRAINING, so that their clients watch on through
// another replica. While Serve runs it updates the adaptive admission
// limit, if any, and renews the leases of the consultations it runs. Serve closes lis and may be called only once.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(councilv1.Council_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	admCtx, stopAdmission := context.WithCancel(context.Background())
	admDone := make(chan struct{}, 2)
	go func() {
		defer func() { admDone <- struct{}{} }()
		s.admission.run(admCtx)
	}()
	go func() {
		defer func() { admDone <- struct{}{} }()
		s.consultations.Run(admCtx)
	}()
	defer func() {
		stopAdmission()
		<-admDone
		<-admDone
	}()

	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()
	select {
	case err := <-served:
		s.health.Shutdown()
		s.grpc.Stop()
		return err
	case <-ctx.Done():
	}

	s.health.Shutdown()
	s.watches.drain()
	stopped := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(s.drainTimeout)
	defer timer.Stop()
	select {
	case <-stopped:
	case <-timer.C:
		s.log.Warn("drain timeout reached; cancelling in-flight calls", "timeout", s.drainTimeout)
		// Consultations still running end with a SHUTTING_DOWN status
		// their clients can read; whatever is left after a short grace
		// (such as health Watch streams) is cut off.
		s.consultations.CancelAll(errShuttingDown)
		s.admission.drain()
		grace := time.NewTimer(cancelGrace)
		defer grace.Stop()
		select {
		case <-stopped:
		case <-grace.C:
			s.grpc.Stop()
			<-stopped
		}
	}
	if err := <-served; !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}
