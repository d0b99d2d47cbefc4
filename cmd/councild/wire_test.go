package main

import (
	"context"
	"strings"
	"testing"
	"time"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
)

// stageOf tells which stage an upstream request belongs to by its prompt.
func stageOf(r openroutertest.Request) string {
	prompt := r.Messages[len(r.Messages)-1].Content
	switch {
	case strings.Contains(prompt, "Chairman of an LLM Council"):
		return "synthesize"
	case strings.Contains(prompt, "FINAL RANKING:"):
		return "review"
	}
	return "collect"
}

func TestConsultationOverOpenRouterWire(t *testing.T) {
	balanced, _ := orchestrator.LookupTier("balanced")
	slow := balanced.Council[3]
	or := openroutertest.NewServer(
		openroutertest.WithDefault(openroutertest.Behavior{Latency: 20 * time.Millisecond}),
		openroutertest.WithBehavior(slow, openroutertest.Behavior{Latency: 3 * time.Second}),
	)
	defer or.Close()
	conn, _ := startRun(t, map[string]string{envAPIKey: or.Key(), envBaseURL: or.URL()})

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if err != nil {
		t.Fatal(err)
	}
	var answered []string
	var last *councilv1.ConsultResponse
	for {
		ev, err := stream.Recv()
		if err != nil {
			break
		}
		last = ev
		if a := ev.GetModelAnswered(); a != nil {
			if len(answered) == 0 && a.GetModel() == slow {
				t.Fatal("the slowest model answered first")
			}
			if len(answered) == 0 && or.InFlight() == 0 {
				t.Fatal("the first answer arrived only after every upstream call had ended")
			}
			answered = append(answered, a.GetModel())
		}
	}
	if last.GetConsultCompleted() == nil {
		t.Fatalf("stream ended with %v", last)
	}
	if len(answered) != 4 || answered[3] != slow {
		t.Fatalf("answers arrived as %v, want 4 with %s last", answered, slow)
	}

	perStage := map[string]int{}
	for _, r := range or.Recorded() {
		perStage[stageOf(r)]++
		if r.Authorization != "Bearer "+or.Key() {
			t.Errorf("%s request without the Bearer key", r.Model)
		}
		if r.MaxTokens <= 0 || !r.Stream {
			t.Errorf("%s request: max_tokens %d, stream %v", r.Model, r.MaxTokens, r.Stream)
		}
	}
	if perStage["collect"] != 4 || perStage["review"] < 2 || perStage["review"] > 4 || perStage["synthesize"] != 1 {
		t.Fatalf("upstream calls per stage = %v, want 4 answers, 2 to 4 rankings, 1 synthesis", perStage)
	}
}

func TestClientCancelCancelsUpstreamCalls(t *testing.T) {
	or := openroutertest.NewServer(openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultHang}))
	defer or.Close()
	conn, _ := startRun(t, map[string]string{envAPIKey: or.Key(), envBaseURL: or.URL()})

	ctx, cancel := context.WithCancel(context.Background())
	stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), waitTimeout)
	defer wcancel()
	if err := or.WaitInFlight(wctx, 4); err != nil {
		t.Fatalf("upstream never saw 4 calls: %v", err)
	}
	cancel()
	for or.Disconnected() < 4 {
		select {
		case <-wctx.Done():
			t.Fatalf("%d of 4 upstream calls cancelled after the client left", or.Disconnected())
		case <-time.After(5 * time.Millisecond):
		}
	}
}
