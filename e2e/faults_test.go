package e2e

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/server"
)

// fault is an upstream misbehaviour and the typed reason a model that
// suffers it is reported with.
type fault struct {
	name     string
	behavior openroutertest.Behavior
	reason   councilv1.ModelFailed_Reason
}

// faults is every fault of the matrix. The trickle spreads its tokens over
// 10 s, far beyond the test's 2 s call timeout.
var faults = []fault{
	// A storm of 429s without OpenRouter's X-RateLimit-* headers: with them
	// the whole key would be announced spent for a minute, and the limiter
	// would rightly hold back the healthy models too.
	{"429 storm", openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 429,
		Headers: map[string]string{"X-RateLimit-Limit": "", "X-RateLimit-Remaining": "", "X-RateLimit-Reset": ""}}, councilv1.ModelFailed_REASON_RATE_LIMITED},
	{"500", openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 500}, councilv1.ModelFailed_REASON_UPSTREAM_ERROR},
	{"502", openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 502}, councilv1.ModelFailed_REASON_UPSTREAM_ERROR},
	{"hang", openroutertest.Behavior{Fault: openroutertest.FaultHang}, councilv1.ModelFailed_REASON_TIMEOUT},
	{"connection reset", openroutertest.Behavior{Fault: openroutertest.FaultReset}, councilv1.ModelFailed_REASON_UPSTREAM_ERROR},
	{"malformed JSON", openroutertest.Behavior{Fault: openroutertest.FaultMalformedJSON}, councilv1.ModelFailed_REASON_INVALID_OUTPUT},
	{"empty content", openroutertest.Behavior{Fault: openroutertest.FaultEmptyContent}, councilv1.ModelFailed_REASON_INVALID_OUTPUT},
	{"mid-stream error", openroutertest.Behavior{Fault: openroutertest.FaultMidStreamError}, councilv1.ModelFailed_REASON_UPSTREAM_ERROR},
	{"slow trickle", openroutertest.Behavior{Fault: openroutertest.FaultTrickle}, councilv1.ModelFailed_REASON_TIMEOUT},
}

// place is where a fault strikes: some council models or the chairman.
type place struct {
	name   string
	models []string
}

var places = []place{
	{"one council model", council[:1]},
	{"two council models", council[:2]},
	{"all four council models", council},
	{"the chairman", []string{chairman}},
}

// chains are the outbound chains the fault matrix runs through: the
// production chain (retries, rate limits, cooldowns, the in-flight cap),
// without and with hedging configured for every council model.
var chains = []struct {
	name string
	cfg  outbound.Config
}{
	{"production chain", outbound.Config{}},
	{"production chain with hedging", outbound.Config{Hedge: map[string]string{
		council[0]: council[1], council[1]: council[2], council[2]: council[3], council[3]: council[0],
	}}},
}

// TestFaultMatrix runs one consultation for every fault in every place,
// through each outbound chain, and checks the documented outcome once
// retries are spent: with one or two council models failing,
// or the chairman, the consultation completes, marked degraded, with each
// failing model named in a ModelFailed event with the fault's reason (and,
// for council models, in excluded_models); with all four failing it ends
// with UNAVAILABLE and QUORUM_NOT_MET. checkStream checks everything else
// that must hold under any fault.
func TestFaultMatrix(t *testing.T) {
	for _, c := range chains {
		for _, f := range faults {
			for _, p := range places {
				t.Run(c.name+"/"+f.name+"/"+p.name, func(t *testing.T) {
					t.Parallel()
					var opts []openroutertest.Option
					for _, m := range p.models {
						opts = append(opts, openroutertest.WithBehavior(m, f.behavior))
					}
					s := newStack(t, stackConfig{upstream: opts, outbound: &c.cfg})
					ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
					defer cancel()
					evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?", RequestId: "matrix"})
					o := checkStream(t, evs, err)
					checkFaultOutcome(t, f, p, c.cfg.Hedge, o)
					s.waitUpstreamIdle(t)
					checkLogs(t, s)
				})
			}
		}
	}
}

// checkFaultOutcome checks the outcome documented for fault f at place p.
// With hedging, a failing council model whose backup is healthy may be
// answered by the backup instead of failing.
func checkFaultOutcome(t *testing.T, f fault, p place, hedge map[string]string, o outcome) {
	t.Helper()
	collectFailed := o.failed[councilv1.Stage_STAGE_COLLECT]
	if p.models[0] == chairman {
		if o.err != nil {
			t.Fatalf("status %v, want OK:%s", o.err, describe(o.events))
		}
		if got := o.failed[councilv1.Stage_STAGE_SYNTHESIZE][chairman]; got != f.reason {
			t.Errorf("chairman failure reason = %v, want %v:%s", got, f.reason, describe(o.events))
		}
		if len(collectFailed) != 0 {
			t.Errorf("Stage 1 failures %v without a council fault", collectFailed)
		}
		if !o.final.GetFallback() || o.final.GetModel() == chairman || !slices.Contains(council, o.final.GetModel()) {
			t.Errorf("final answer by %s (fallback %v), want a council model standing in", o.final.GetModel(), o.final.GetFallback())
		}
		if !o.completed.GetDegraded() || len(o.completed.GetExcludedModels()) != 0 {
			t.Errorf("completed: degraded %v, excluded %v", o.completed.GetDegraded(), o.completed.GetExcludedModels())
		}
		return
	}

	var wantExcluded []string
	for _, m := range council {
		reason, failed := collectFailed[m]
		if failed {
			wantExcluded = append(wantExcluded, m)
		}
		backup, hedged := hedge[m]
		rescued := hedged && !slices.Contains(p.models, backup) && slices.Contains(o.answered, m)
		switch want := slices.Contains(p.models, m); {
		case want && !failed && rescued:
			// Its backup answered in its place.
		case want && !failed:
			t.Errorf("%s did not fail in Stage 1:%s", m, describe(o.events))
		case want && reason != f.reason:
			t.Errorf("%s failed with %v, want %v", m, reason, f.reason)
		case !want && failed:
			t.Errorf("healthy %s failed with %v", m, reason)
		case !want && !slices.Contains(o.answered, m):
			t.Errorf("healthy %s did not answer", m)
		}
	}
	if len(p.models) == len(council) {
		if status.Code(o.err) != codes.Unavailable || reasonOf(o.err) != server.ReasonQuorumNotMet {
			t.Fatalf("status %v, want Unavailable with %s", o.err, server.ReasonQuorumNotMet)
		}
		if o.final != nil {
			t.Errorf("a final answer without quorum")
		}
		return
	}
	if o.err != nil {
		t.Fatalf("status %v, want OK:%s", o.err, describe(o.events))
	}
	if len(hedge) == 0 && len(wantExcluded) != len(p.models) {
		t.Errorf("Stage 1 failures %v, want every one of %v", collectFailed, p.models)
	}
	excluded := slices.Sorted(slices.Values(o.completed.GetExcludedModels()))
	slices.Sort(wantExcluded)
	if o.completed.GetDegraded() != (len(wantExcluded) > 0) || !slices.Equal(excluded, wantExcluded) {
		t.Errorf("completed: degraded %v, excluded %v; want degraded %v, excluded %v", o.completed.GetDegraded(), excluded, len(wantExcluded) > 0, wantExcluded)
	}
	if o.final.GetModel() != chairman || o.final.GetFallback() {
		t.Errorf("final answer by %s (fallback %v), want the chairman", o.final.GetModel(), o.final.GetFallback())
	}
}

// checkLogs checks that the stack's log holds no upstream text or key.
func checkLogs(t *testing.T, s *stack) {
	t.Helper()
	for _, text := range rules.Leaks(s.logs.String()) {
		t.Errorf("the log holds upstream text %q", text)
	}
}

// TestNoSynthesis checks the outcome when the chairman and the fallback
// chairman both fail: the stream ends with UNAVAILABLE and NO_SYNTHESIS
// after the council's answers, and nothing stands in for the answer.
func TestNoSynthesis(t *testing.T) {
	const fallback = "openai/gpt-4o"
	down := openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 503}
	s := newStack(t, stackConfig{
		outbound: &outbound.Config{},
		council:  orchestrator.Config{FallbackChairman: fallback},
		upstream: []openroutertest.Option{
			openroutertest.WithModels(fallback),
			openroutertest.WithBehavior(chairman, down),
			openroutertest.WithBehavior(fallback, down),
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	evs, err := s.consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	o := checkStream(t, evs, err)
	if status.Code(err) != codes.Unavailable || reasonOf(err) != server.ReasonNoSynthesis {
		t.Fatalf("status %v, want Unavailable with %s:%s", err, server.ReasonNoSynthesis, describe(evs))
	}
	synth := o.failed[councilv1.Stage_STAGE_SYNTHESIZE]
	if len(synth) != 2 || synth[chairman] != councilv1.ModelFailed_REASON_UPSTREAM_ERROR || synth[fallback] != councilv1.ModelFailed_REASON_UPSTREAM_ERROR {
		t.Errorf("synthesis failures = %v", synth)
	}
	if o.final != nil || len(o.answered) != len(council) {
		t.Errorf("final %v, %d answers", o.final, len(o.answered))
	}
	s.waitUpstreamIdle(t)
	checkLogs(t, s)
}
