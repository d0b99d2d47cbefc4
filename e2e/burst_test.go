package e2e

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/internal/quantile"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

// Sizing of the burst test: far more consultations at once than two CPUs
// under the race detector serve, against a server that starts with an
// adaptive limit well below the burst.
const (
	burstSize         = 300
	burstRounds       = 2
	burstCap          = 1000
	burstInitialLimit = 24
	burstMinLimit     = 10
	// callsPerConsultation is what a consultation costs upstream when no
	// model fails: four answers, four rankings and the chairman.
	callsPerConsultation = 9
)

// burstResult is one consultation of a burst as its client saw it.
type burstResult struct {
	out        outcome
	began, end time.Time
}

// TestBurstShedsAtOnce starts burstSize consultations at the same instant,
// twice, against a server with adaptive admission whose fake upstream
// streams every answer in many small chunks, so that the consultations
// compete for the CPU. It checks that:
//   - every refusal is RESOURCE_EXHAUSTED (OVERLOADED or
//     TOO_MANY_CONSULTATIONS) with a QuotaFailure and a RetryInfo, comes
//     before any event, and costs no upstream call;
//   - every refusal comes back before the first admitted consultation ends
//     (its models alone take 3 s): refusals do not wait for a place;
//   - every admitted consultation completes with every model answering: none
//     fails, times out or degrades because the server is saturated (only a
//     ranking the finished answer made unnecessary may be cancelled);
//   - the burst is shed at all, and the limit stays within its bounds.
func TestBurstShedsAtOnce(t *testing.T) {
	answer := openroutertest.Behavior{Latency: time.Second, TTFT: 50 * time.Millisecond, Chunks: 40}
	defaults := orchestrator.DefaultConfig()
	s := newStack(t, stackConfig{
		// The production call timeouts: a consultation that the server
		// admitted must not run into them.
		council: orchestrator.Config{
			CollectTimeout:    defaults.CollectTimeout,
			ReviewTimeout:     defaults.ReviewTimeout,
			SynthesizeTimeout: defaults.SynthesizeTimeout,
		},
		server: []server.Option{
			server.WithMaxConsultations(burstCap),
			server.WithAdaptiveAdmission(server.AdaptiveAdmission{Min: burstMinLimit, Initial: burstInitialLimit}),
		},
		upstream: []openroutertest.Option{openroutertest.WithDefault(answer), openroutertest.WithoutRecording()},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()

	// A server has been running a while when a burst comes: a few
	// consultations open the connections to the upstream and let the
	// limit measure a quiet baseline.
	for i, r := range burst(ctx, s, burstMinLimit) {
		if r.out.err != nil {
			t.Fatalf("warm-up consultation %d: %v", i, r.out.err)
		}
	}

	for round := range burstRounds {
		requestsBefore := s.upstream.Requests()
		results := burst(ctx, s, burstSize)

		var served, shed []time.Duration
		firstServed, lastShed := time.Time{}, time.Time{}
		for i, r := range results {
			if r.out.err == nil {
				served = append(served, r.end.Sub(r.began))
				if firstServed.IsZero() || r.end.Before(firstServed) {
					firstServed = r.end
				}
				checkServedInFull(t, i, r.out)
				continue
			}
			shed = append(shed, r.end.Sub(r.began))
			if r.end.After(lastShed) {
				lastShed = r.end
			}
			checkShed(t, i, r.out)
		}
		if len(shed) == 0 || len(served) == 0 {
			t.Fatalf("round %d: %d served and %d shed of %d; want both", round+1, len(served), len(shed), burstSize)
		}
		slices.Sort(served)
		slices.Sort(shed)
		t.Logf("round %d: %d served (p50 %v, p99 %v), %d shed (p50 %v, p99 %v, max %v)", round+1,
			len(served), quantile.Sorted(served, 50), quantile.Sorted(served, 99),
			len(shed), quantile.Sorted(shed, 50), quantile.Sorted(shed, 99), shed[len(shed)-1])
		if !lastShed.Before(firstServed) {
			t.Errorf("round %d: the last refusal came %v after the first admitted consultation ended", round+1, lastShed.Sub(firstServed))
		}
		if spent, most := s.upstream.Requests()-requestsBefore, callsPerConsultation*len(served); spent > most {
			t.Errorf("round %d: %d upstream requests for %d served consultations; the refused ones spent some", round+1, spent, len(served))
		}

		stats, err := s.client.GetStats(ctx, &councilv1.GetStatsRequest{})
		if err != nil {
			t.Fatalf("GetStats: %v", err)
		}
		t.Logf("round %d: admission limit now %d", round+1, stats.GetAdmissionLimit())
		if l := stats.GetAdmissionLimit(); l < burstMinLimit || l > burstCap || stats.GetConsultationsInFlight() != 0 {
			t.Errorf("round %d: GetStats reports a limit of %d (want %d to %d) and %d in flight (want 0)",
				round+1, l, burstMinLimit, burstCap, stats.GetConsultationsInFlight())
		}
	}
	s.waitUpstreamIdle(t)
}

// burst starts n consultations at the same instant, each on its own
// goroutine, and returns what each produced.
func burst(ctx context.Context, s *stack, n int) []burstResult {
	results := make([]burstResult, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			began := time.Now()
			evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
			results[i] = burstResult{out: outcome{events: evs, err: err}, began: began, end: time.Now()}
		})
	}
	close(start)
	wg.Wait()
	return results
}

// checkServedInFull checks that an admitted consultation completed with
// every council model answering and no model failing, except a ranking
// cancelled because the final answer was ready first.
func checkServedInFull(t *testing.T, i int, o outcome) {
	t.Helper()
	got := checkStream(t, o.events, o.err)
	if got.completed == nil || got.completed.GetDegraded() || len(got.answered) != len(council) {
		t.Errorf("consultation %d was admitted but not served in full: %s", i, describe(o.events))
	}
	for stage, models := range got.failed {
		for model, reason := range models {
			if stage != councilv1.Stage_STAGE_REVIEW || reason != councilv1.ModelFailed_REASON_CANCELED {
				t.Errorf("consultation %d was admitted, but %s failed in %v with %v", i, model, stage, reason)
			}
		}
	}
}

// checkShed checks that a refused consultation was refused by admission
// control, with its details, before any event.
func checkShed(t *testing.T, i int, o outcome) {
	t.Helper()
	checkStream(t, o.events, o.err)
	reason := reasonOf(o.err)
	if status.Code(o.err) != codes.ResourceExhausted || (reason != server.ReasonOverloaded && reason != server.ReasonTooManyConsultations) {
		t.Errorf("consultation %d failed with %v (reason %q); a burst may only shed with RESOURCE_EXHAUSTED", i, o.err, reason)
		return
	}
	if len(o.events) > 0 {
		t.Errorf("consultation %d was refused after %d events", i, len(o.events))
	}
	var retry, quota bool
	for _, d := range status.Convert(o.err).Details() {
		switch d := d.(type) {
		case *errdetails.RetryInfo:
			retry = d.GetRetryDelay().AsDuration() > 0
		case *errdetails.QuotaFailure:
			quota = len(d.GetViolations()) == 1
		}
	}
	if !retry || !quota {
		t.Errorf("consultation %d: refusal without RetryInfo (%v) or QuotaFailure (%v)", i, retry, quota)
	}
}
