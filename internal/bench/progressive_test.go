package bench_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
)

// Property 8: each answer and each ranking is streamed to the caller as
// soon as its upstream call ends. Here the other calls of the stage never
// end (they hang until the client goes away), so an event that reaches a
// real gRPC client cannot have waited for them.
func TestEventsReachTheClientWhileOtherCallsAreHeldOpen(t *testing.T) {
	council := []string{"fast/a", "slow/b", "slow/c", "slow/d"}
	for _, tc := range []struct {
		name string
		// stage is the Stage 1 (1) or Stage 2 (2) call in which only
		// fast/a answers; the models answer every other call at once.
		stage int
		want  func(*councilv1.ConsultResponse) string // the model of a wanted event
	}{
		{name: "answer", stage: 1, want: func(r *councilv1.ConsultResponse) string { return r.GetModelAnswered().GetModel() }},
		{name: "ranking", stage: 2, want: func(r *councilv1.ConsultResponse) string { return r.GetModelRanked().GetReviewerModel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			upstream := openroutertest.NewServer(openroutertest.WithScript(func(model string, n int) openroutertest.Behavior {
				if n == tc.stage && model != "fast/a" {
					return openroutertest.Behavior{Fault: openroutertest.FaultHang}
				}
				return openroutertest.Behavior{}
			}))
			defer upstream.Close()
			addr := serve(t, upstream.URL(), upstream.Key(), orchestrator.Config{
				Council: council, Chairman: "chair/e",
				CollectTimeout: 10 * time.Minute, ReviewTimeout: 10 * time.Minute,
			})
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, &councilv1.ConsultRequest{
				Query: "Why is the sky blue?", CouncilModels: council, ChairmanModel: "chair/e",
			})
			if err != nil {
				t.Fatal(err)
			}
			for {
				msg, err := stream.Recv()
				if err != nil {
					t.Fatalf("the stream ended (%v) before fast/a's %s arrived", err, tc.name)
				}
				if msg.GetStageCompleted().GetStage() == councilv1.Stage(tc.stage) || msg.GetRankingsAggregated() != nil {
					t.Fatalf("stage %d ended before fast/a's %s arrived: %v", tc.stage, tc.name, msg)
				}
				if got := tc.want(msg); got != "" {
					if got != "fast/a" {
						t.Fatalf("%s from %s, want fast/a's", tc.name, got)
					}
					break
				}
			}
			// The other three calls of the stage are still open: they hang
			// until their client goes away.
			if err := upstream.WaitInFlight(ctx, 3); err != nil {
				t.Fatalf("the other calls are not in flight: %v", err)
			}
			if n := upstream.RequestsFor("fast/a"); n != tc.stage {
				t.Errorf("fast/a was called %d times, want %d", n, tc.stage)
			}
			// Leaving cancels the consultation and with it the held calls.
			cancel()
			if _, err := stream.Recv(); err == nil || errors.Is(err, io.EOF) {
				t.Errorf("after cancelling, Recv returned %v", err)
			}
			wait, stop := context.WithTimeout(context.Background(), patience)
			defer stop()
			for upstream.InFlight() > 0 {
				if wait.Err() != nil {
					t.Fatalf("%d upstream calls still open after the client left", upstream.InFlight())
				}
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
}
