package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

// TestOverload fills the server's admission limit with consultations whose
// models hang, and checks that the next one is refused at once with
// RESOURCE_EXHAUSTED and a retry hint, that cancelling the running ones
// cancels their upstream calls, and that the freed places admit new
// consultations.
func TestOverload(t *testing.T) {
	const limit = 3
	s := newStack(t, stackConfig{
		council:  orchestrator.Config{CollectTimeout: 10 * time.Minute},
		server:   []server.Option{server.WithMaxConsultations(limit)},
		upstream: []openroutertest.Option{openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultHang})},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	running, stopRunning := context.WithCancel(ctx)
	done := make(chan error, limit)
	for range limit {
		go func() {
			_, err := s.consult(running, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
			done <- err
		}()
	}
	if err := s.upstream.WaitInFlight(ctx, limit*len(council)); err != nil {
		t.Fatalf("the consultations did not all reach the upstream: %v", err)
	}

	evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "One more?"})
	checkStream(t, evs, err)
	if status.Code(err) != codes.ResourceExhausted || reasonOf(err) != server.ReasonTooManyConsultations {
		t.Fatalf("status %v, want ResourceExhausted with %s", err, server.ReasonTooManyConsultations)
	}
	var retry *errdetails.RetryInfo
	var quota *errdetails.QuotaFailure
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d
		case *errdetails.QuotaFailure:
			quota = d
		}
	}
	if retry.GetRetryDelay().AsDuration() <= 0 || len(quota.GetViolations()) != 1 {
		t.Errorf("details: retry %v, quota %v", retry, quota)
	}

	stopRunning()
	for range limit {
		select {
		case err := <-done:
			if status.Code(err) != codes.Canceled {
				t.Errorf("cancelled consultation ended with %v", err)
			}
		case <-ctx.Done():
			t.Fatal("cancelled consultations did not end")
		}
	}
	s.waitUpstreamIdle(t)

	s.upstream.SetDefault(openroutertest.Behavior{})
	for range limit + 1 {
		evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "And now?"})
		checkStream(t, evs, err)
		if err != nil {
			t.Errorf("consultation after the overload: %v", err)
		}
	}
}

// TestOversizedRequest checks that a request beyond the message-size limit
// is refused by the transport with RESOURCE_EXHAUSTED and reaches no model.
func TestOversizedRequest(t *testing.T) {
	s := newStack(t, stackConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := s.consult(ctx, &councilv1.ConsultRequest{Query: strings.Repeat("q", 5<<20)})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("5 MiB request: %v, want ResourceExhausted", err)
	}
	if s.upstream.Requests() != 0 {
		t.Errorf("the oversized request reached the upstream")
	}
	if _, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "Still there?"}); err != nil {
		t.Errorf("consultation after the oversized one: %v", err)
	}
}
