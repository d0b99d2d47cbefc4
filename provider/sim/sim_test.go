package sim_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/sim"
)

// patience bounds how long a test waits for something that should be quick.
const patience = 10 * time.Second

// kindOf returns err's provider kind, failing the test if err is not a
// *provider.Error.
func kindOf(t *testing.T, err error) provider.Kind {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *provider.Error", err, err)
	}
	return pe.Kind
}

func TestCompleteWritesEachStage(t *testing.T) {
	p := sim.New(sim.Config{})
	for _, stage := range []string{"collect", "review", "synthesize"} {
		t.Run(stage, func(t *testing.T) {
			req := ask("anthropic/claude-haiku-4.5", rankingPrompt(question, []string{"Response A", "Response B"}, []string{"x", "y"}), stage)
			resp, err := p.Complete(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if want := sim.Write(req); resp.Content != want {
				t.Errorf("content = %q, want Write's %q", resp.Content, want)
			}
			if resp.Model != req.Model || resp.FinishReason != "stop" || resp.ID == "" {
				t.Errorf("response = %+v", resp)
			}
			u := resp.Usage
			if u.InputTokens != int64(len(req.Messages[0].Content)/4) || u.OutputTokens != int64(len(resp.Content)/4) || u.Cost <= 0 {
				t.Errorf("usage = %+v for %d prompt and %d completion bytes", u, len(req.Messages[0].Content), len(resp.Content))
			}
		})
	}
}

func TestUsagePricesByModel(t *testing.T) {
	cheap := sim.Usage(ask("meta-llama/llama-4-scout", question, ""), strings.Repeat("x", 4000))
	dear := sim.Usage(ask("anthropic/claude-sonnet-4.5", question, ""), strings.Repeat("x", 4000))
	if cheap.OutputTokens != 1000 || dear.OutputTokens != 1000 {
		t.Fatalf("output tokens = %d, %d, want 1000", cheap.OutputTokens, dear.OutputTokens)
	}
	if !(0 < cheap.Cost && cheap.Cost < dear.Cost) {
		t.Errorf("cost of an 8B model %g, of Sonnet %g", cheap.Cost, dear.Cost)
	}
}

func TestCompleteStreamsDeltasThatMakeTheContent(t *testing.T) {
	p := sim.New(sim.Config{Default: sim.Profile{Latency: 30 * time.Millisecond, TimeToFirstToken: 10 * time.Millisecond}})
	var deltas []string
	req := ask("chair", "Original Question: "+question, "synthesize")
	req.OnDelta = func(d string) { deltas = append(deltas, d) }
	start := time.Now()
	resp, err := p.Complete(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Errorf("streamed answer took %v, want at least its 30ms latency", elapsed)
	}
	if len(deltas) < 10 {
		t.Errorf("%d deltas, want the answer in small pieces", len(deltas))
	}
	if got := strings.Join(deltas, ""); got != resp.Content {
		t.Errorf("deltas make %q, content is %q", got, resp.Content)
	}
}

func TestCompleteHonoursLatency(t *testing.T) {
	const latency, ttft = 60 * time.Millisecond, 40 * time.Millisecond
	p := sim.New(sim.Config{Profiles: map[string]sim.Profile{"m": {Latency: latency, TimeToFirstToken: ttft, Jitter: 0.25}}})
	start := time.Now()
	var first time.Duration
	req := ask("m", question, "")
	req.OnDelta = func(string) {
		if first == 0 {
			first = time.Since(start)
		}
	}
	if _, err := p.Complete(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	if total := time.Since(start); total < latency*3/4 {
		t.Errorf("answer after %v, want at least %v", total, latency*3/4)
	}
	if first < ttft*3/4 {
		t.Errorf("first delta after %v, want at least %v", first, ttft*3/4)
	}
}

func TestScaleShrinksLatency(t *testing.T) {
	p := sim.New(sim.Config{Default: sim.Profile{Latency: time.Hour, TimeToFirstToken: time.Minute}, Scale: 1e-6})
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if _, err := p.Complete(ctx, ask("m", question, "")); err != nil {
		t.Fatalf("an hour scaled by 1e-6 did not finish within %v: %v", patience, err)
	}
}

func TestFailRateOneAlwaysFailsRetryably(t *testing.T) {
	p := sim.New(sim.Config{Default: sim.Profile{FailRate: 1}})
	for range 20 {
		_, err := p.Complete(context.Background(), ask("m", question, ""))
		var pe *provider.Error
		if !errors.As(err, &pe) || !pe.Retryable() {
			t.Fatalf("err = %v, want a retryable *provider.Error", err)
		}
	}
}

func TestFailRateIsRepeatableBySeed(t *testing.T) {
	outcomes := func(seed int64) string {
		p := sim.New(sim.Config{Default: sim.Profile{FailRate: 0.5}, Seed: seed})
		var b strings.Builder
		for range 32 {
			if _, err := p.Complete(context.Background(), ask("m", question, "")); err != nil {
				b.WriteString(kindOf(t, err).String()[:1])
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a := outcomes(7)
	if b := outcomes(7); a != b {
		t.Errorf("same seed, different outcomes: %s vs %s", a, b)
	}
	if !strings.Contains(a, ".") || strings.Count(a, ".") == len(a) {
		t.Errorf("outcomes %s: want both successes and failures at rate 0.5", a)
	}
}

func TestForcedFailureKinds(t *testing.T) {
	for _, kind := range []provider.Kind{provider.KindRateLimited, provider.KindOverloaded, provider.KindAuth, provider.KindQuota, provider.KindInvalidRequest, provider.KindEmpty} {
		t.Run(kind.String(), func(t *testing.T) {
			p := sim.New(sim.Config{Profiles: map[string]sim.Profile{"bad": {Fail: kind}}})
			_, err := p.Complete(context.Background(), ask("bad", question, ""))
			if got := kindOf(t, err); got != kind {
				t.Errorf("kind = %v, want %v", got, kind)
			}
			if _, err := p.Complete(context.Background(), ask("good", question, "")); err != nil {
				t.Errorf("a model without the forced failure failed: %v", err)
			}
		})
	}
}

func TestHangWaitsForTheContext(t *testing.T) {
	p := sim.New(sim.Config{Default: sim.Profile{Hang: true}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Complete(ctx, ask("m", question, ""))
	if got := kindOf(t, err); got != provider.KindTimeout {
		t.Errorf("kind = %v, want timeout", got)
	}
	if ctx.Err() == nil {
		t.Error("Complete returned before the deadline")
	}
}

func TestCancelReturnsPromptly(t *testing.T) {
	slow := sim.Profile{Latency: time.Hour, TimeToFirstToken: time.Hour}
	cases := []struct {
		name    string
		profile sim.Profile
		stream  bool
	}{
		{"waiting", slow, false},
		{"before first token", slow, true},
		{"mid stream", sim.Profile{Latency: time.Hour}, true},
		{"hanging", sim.Profile{Hang: true}, false},
		{"failing slowly", sim.Profile{TimeToFirstToken: time.Hour, Fail: provider.KindOverloaded}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := sim.New(sim.Config{Default: tc.profile})
			ctx, cancel := context.WithCancel(context.Background())
			req := ask("m", question, "")
			var once sync.Once
			streamed := make(chan struct{})
			if tc.stream {
				req.OnDelta = func(string) { once.Do(func() { close(streamed) }) }
			}
			done := make(chan error, 1)
			go func() {
				_, err := p.Complete(ctx, req)
				done <- err
			}()
			if tc.profile.TimeToFirstToken == 0 && tc.stream {
				<-streamed
			}
			cancel()
			select {
			case err := <-done:
				if got := kindOf(t, err); got != provider.KindCanceled {
					t.Errorf("kind = %v, want canceled", got)
				}
				var pe *provider.Error
				errors.As(err, &pe)
				if midStream := tc.profile.TimeToFirstToken == 0 && tc.stream; pe.Streamed != midStream {
					t.Errorf("Streamed = %v, want %v", pe.Streamed, midStream)
				}
			case <-time.After(patience):
				t.Fatal("Complete did not return after cancel")
			}
		})
	}
}

func TestDefaultProfilesCoverEveryTier(t *testing.T) {
	profiles := sim.DefaultProfiles()
	latencies := map[time.Duration]bool{}
	for _, tier := range orchestrator.Tiers() {
		for _, m := range append(tier.Council, tier.Chairman) {
			prof, ok := profiles[m]
			if !ok {
				t.Errorf("tier %s: model %s has no profile", tier.Name, m)
				continue
			}
			if prof.Latency < 500*time.Millisecond || prof.Latency > 2500*time.Millisecond || prof.TimeToFirstToken >= prof.Latency {
				t.Errorf("%s: latency %v, first token %v", m, prof.Latency, prof.TimeToFirstToken)
			}
			latencies[prof.Latency] = true
		}
	}
	if len(latencies) < 5 {
		t.Errorf("only %d distinct latencies across the tiers", len(latencies))
	}
}

func TestListModels(t *testing.T) {
	got, err := sim.New(sim.DefaultConfig()).ListModels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := sim.Models(); strings.Join(provider.ModelIDs(got), ",") != strings.Join(want, ",") {
		t.Errorf("ListModels = %v, want %v", got, want)
	}
	for _, m := range got {
		if m.Price != sim.PriceOf(m.ID) || m.Price.Prompt <= 0 || m.Price.Completion <= 0 {
			t.Errorf("model %s: price %+v, want the positive list price %+v", m.ID, m.Price, sim.PriceOf(m.ID))
		}
	}
	// Usage charges the listed price.
	req := &provider.Request{Model: "openai/gpt-5-mini", Messages: []provider.Message{{Role: provider.RoleUser, Content: strings.Repeat("x", 400)}}}
	u := sim.Usage(req, strings.Repeat("y", 800))
	if want := sim.PriceOf(req.Model).Cost(100, 200); u.Cost != want {
		t.Errorf("Usage cost = %g, want %g", u.Cost, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sim.New(sim.Config{}).ListModels(ctx); kindOf(t, err) != provider.KindCanceled {
		t.Errorf("ListModels on a canceled context: %v", err)
	}
}
