package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"pgregory.net/rapid"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

// gate is a Consulter whose consultations emit their first event, report
// that they have started and then wait for a release or their context.
type gate struct {
	entered chan struct{}
	release chan struct{}
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 100), release: make(chan struct{})}
}

func (g *gate) Consult(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
	if err := emit(started(1)); err != nil {
		return err
	}
	g.entered <- struct{}{}
	select {
	case <-g.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// openConsult starts a consultation and waits for its first event, so that
// it is known to be admitted and running. It returns the stream's final
// error on the returned channel.
func openConsult(t *testing.T, ctx context.Context, h *harness) <-chan error {
	t.Helper()
	stream, err := h.client.Consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if err != nil {
		t.Fatalf("Consult: %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first event: %v", err)
	}
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := stream.Recv(); err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				done <- err
				return
			}
		}
	}()
	return done
}

// quotaDetails returns the QuotaFailure subject and the RetryInfo delay of
// a ResourceExhausted status with the ErrorInfo reason want.
func quotaDetails(t *testing.T, err error, want string) (string, time.Duration) {
	t.Helper()
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("code = %v (%v), want ResourceExhausted", status.Code(err), err)
	}
	if info, _ := errorInfo(t, err); info.GetReason() != want {
		t.Errorf("reason = %q, want %q", info.GetReason(), want)
	}
	var subject string
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.QuotaFailure:
			if len(d.GetViolations()) != 1 {
				t.Fatalf("QuotaFailure has %d violations", len(d.GetViolations()))
			}
			subject = d.GetViolations()[0].GetSubject()
		case *errdetails.RetryInfo:
			delay = d.GetRetryDelay().AsDuration()
		}
	}
	if delay <= 0 {
		t.Errorf("no positive RetryInfo in %v", err)
	}
	return subject, delay
}

func TestAdmissionLimitsConsultations(t *testing.T) {
	g := newGate()
	h := start(t, g, WithMaxConsultations(2))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	first := openConsult(t, ctx, h)
	second := openConsult(t, ctx, h)
	_, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	subject, delay := quotaDetails(t, err, ReasonTooManyConsultations)
	if subject != "server" || delay != admissionRetryDelay {
		t.Errorf("subject %q, delay %v", subject, delay)
	}
	// Other calls are not admission-controlled.
	if _, err := h.client.ListTiers(ctx, &councilv1.ListTiersRequest{}); err != nil {
		t.Errorf("ListTiers at the limit: %v", err)
	}

	close(g.release)
	for _, done := range []<-chan error{first, second} {
		if err := recv(t, done); err != nil {
			t.Errorf("admitted consultation: %v", err)
		}
	}
	// Finished consultations free their places.
	for range 2 {
		if _, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"}); err != nil {
			t.Errorf("consultation after the others finished: %v", err)
		}
	}
}

func TestAdmissionLimitsEachCaller(t *testing.T) {
	g := newGate()
	h := start(t, g, WithBearerTokens(tokenA, tokenB), WithMaxConsultationsPerCaller(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	asA, asB := withAuth(ctx, "Bearer "+tokenA), withAuth(ctx, "Bearer "+tokenB)

	a := openConsult(t, asA, h)
	_, err := h.consult(asA, &councilv1.ConsultRequest{Query: "q"})
	if subject, _ := quotaDetails(t, err, ReasonTooManyConsultations); subject != "caller:token-1" {
		t.Errorf("subject = %q, want caller:token-1", subject)
	}
	if s := fmt.Sprint(status.Convert(err).Proto()); strings.Contains(s, "SECRET") {
		t.Errorf("status carries a token: %s", s)
	}
	b := openConsult(t, asB, h)
	close(g.release)
	for _, done := range []<-chan error{a, b} {
		if err := recv(t, done); err != nil {
			t.Errorf("admitted consultation: %v", err)
		}
	}
}

func TestShutdownEndsRunningConsultationWithShuttingDown(t *testing.T) {
	g := newGate()
	h := start(t, g, WithDrainTimeout(10*time.Millisecond))
	done := openConsult(t, context.Background(), h)
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	err := recv(t, done)
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("code = %v (%v), want Unavailable", status.Code(err), err)
	}
	if info, _ := errorInfo(t, err); info.GetReason() != ReasonShuttingDown {
		t.Errorf("reason = %q, want %q", info.GetReason(), ReasonShuttingDown)
	}
}

// TestAdaptiveAdmissionRefusesWithOverloaded fills an adaptive limit of
// one and checks that the next consultation is refused at once with
// OVERLOADED, that GetStats reports the limit and the consultation in
// flight, and that the freed place admits a new consultation.
func TestAdaptiveAdmissionRefusesWithOverloaded(t *testing.T) {
	g := newGate()
	// A window of an hour keeps the limit where it starts.
	h := start(t, g, WithMaxConsultations(10), WithAdaptiveAdmission(AdaptiveAdmission{Initial: 1, Window: time.Hour}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	first := openConsult(t, ctx, h)
	_, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if subject, delay := quotaDetails(t, err, ReasonOverloaded); subject != "server" || delay != admissionRetryDelay {
		t.Errorf("subject %q, delay %v", subject, delay)
	}
	stats, err := h.client.GetStats(ctx, &councilv1.GetStatsRequest{})
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	if stats.GetAdmissionLimit() != 1 || stats.GetConsultationsInFlight() != 1 {
		t.Errorf("GetStats: admission limit %d, in flight %d; want 1 and 1", stats.GetAdmissionLimit(), stats.GetConsultationsInFlight())
	}

	close(g.release)
	if err := recv(t, first); err != nil {
		t.Fatalf("admitted consultation: %v", err)
	}
	if _, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"}); err != nil {
		t.Errorf("consultation after the first finished: %v", err)
	}
}

// TestGetStatsReportsStaticLimit checks that without adaptive admission
// GetStats reports the configured maximum.
func TestGetStatsReportsStaticLimit(t *testing.T) {
	h := start(t, newGate(), WithMaxConsultations(7))
	stats, err := h.client.GetStats(context.Background(), &councilv1.GetStatsRequest{})
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	if stats.GetAdmissionLimit() != 7 || stats.GetConsultationsInFlight() != 0 {
		t.Errorf("GetStats: admission limit %d, in flight %d; want 7 and 0", stats.GetAdmissionLimit(), stats.GetConsultationsInFlight())
	}
}

// TestAdmissionBounds checks with random sequences of admissions and
// releases that no limit is ever exceeded and that a consultation is
// refused only when a limit is reached, the adaptive one included.
func TestAdmissionBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		maxAll := rapid.IntRange(1, 6).Draw(t, "max")
		perCaller := rapid.IntRange(0, 4).Draw(t, "perCaller")
		adaptive := rapid.IntRange(0, 6).Draw(t, "adaptive") // 0: off
		opts := []Option{WithMaxConsultations(maxAll), WithMaxConsultationsPerCaller(perCaller)}
		if adaptive > 0 {
			opts = append(opts, WithAdaptiveAdmission(AdaptiveAdmission{Initial: adaptive}))
		}
		a, err := newAdmission(newOptions(opts))
		if err != nil {
			t.Fatalf("newAdmission: %v", err)
		}
		var held []*ticket
		count := map[string]int{}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			if len(held) > 0 && rapid.Bool().Draw(t, "release") {
				i := rapid.IntRange(0, len(held)-1).Draw(t, "which")
				a.release(held[i])
				count[held[i].caller]--
				held = append(held[:i], held[i+1:]...)
				continue
			}
			caller := rapid.SampledFrom([]string{"x", "y", "z"}).Draw(t, "caller")
			tk, err := a.acquire(caller, func(error) {})
			full := len(held) >= maxAll || (perCaller > 0 && count[caller] >= perCaller) ||
				(adaptive > 0 && len(held) >= adaptive)
			if (err != nil) != full {
				t.Fatalf("acquire(%s) with %d held (%v) = %v; full = %v", caller, len(held), count, err, full)
			}
			if err == nil {
				held = append(held, tk)
				count[caller]++
			}
		}
		if a.inFlight() != len(held) || (a.controller != nil && a.controller.InFlight() != len(held)) {
			t.Fatalf("running = %d, held %d", a.inFlight(), len(held))
		}
	})
}

// TestRefusalIsMadeInTheTransport checks that a consultation past the
// server-wide limit is refused before it reaches the interceptors: the
// refusals carry the documented details, and only the admitted
// consultation is logged as a call.
func TestRefusalIsMadeInTheTransport(t *testing.T) {
	g := newGate()
	h := start(t, g, WithMaxConsultations(1))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	first := openConsult(t, ctx, h)
	for range 3 {
		_, err := h.consult(ctx, &councilv1.ConsultRequest{Query: "q"})
		if subject, delay := quotaDetails(t, err, ReasonTooManyConsultations); subject != "server" || delay != admissionRetryDelay {
			t.Errorf("subject %q, delay %v", subject, delay)
		}
	}
	if n := strings.Count(h.logs.String(), `"grpc.method":"Consult"`); n != 1 {
		t.Errorf("%d log lines of Consult calls, want 1 (refusals are made before the interceptors):\n%s", n, h.logs.String())
	}
	close(g.release)
	if err := recv(t, first); err != nil {
		t.Fatalf("admitted consultation: %v", err)
	}
}
