package orchestrator

import (
	"context"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"pgregory.net/rapid"
)

// deltaText draws a stream's pieces: empty, ASCII, multi-byte and long
// ones, so that the 1 KiB flush and every window come into play.
func deltaText(t *rapid.T, label string) []string {
	piece := rapid.OneOf(
		rapid.Just(""),
		rapid.StringMatching(`[a-z ]{1,8}`),
		rapid.StringN(1, 6, -1),
		rapid.StringMatching(`[a-z]{300,700}`),
	)
	// The answer must not be blank, or the call would fail.
	return append(rapid.SliceOfN(piece, 0, 40).Draw(t, label), "end.")
}

// Property 9: whatever the chairman streams and whatever the flush window,
// the SynthesisDelta events concatenate exactly to the final answer's
// content, the first non-empty delta goes out on its own, and there are
// never more events than non-empty deltas.
func TestPropertyCoalescedDeltasConcatenateToTheAnswer(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		deltas := deltaText(t, "deltas")
		window := time.Duration(rapid.SampledFrom([]int{0, 1, 5, 25, 1000}).Draw(t, "window ms")) * time.Millisecond
		pause := time.Duration(rapid.IntRange(0, 300).Draw(t, "pause µs")) * time.Microsecond
		f := newScripted().set(testChair, behavior{deltas: deltas, pause: pause}, StageSynthesize)
		evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", DeltaFlushWindow: &window})
		if err != nil {
			t.Fatal(err)
		}
		checkStream(t, evs, true)
		var got strings.Builder
		sent := payloads[*SynthesisDelta](evs)
		for _, d := range sent {
			if d.Text == "" {
				t.Fatal("empty SynthesisDelta")
			}
			got.WriteString(d.Text)
		}
		final := payloads[*FinalAnswer](evs)[0].Content
		if got.String() != final {
			t.Fatalf("deltas concatenate to %q, final answer is %q", got.String(), final)
		}
		nonEmpty := slices.DeleteFunc(slices.Clone(deltas), func(s string) bool { return s == "" })
		if len(sent) > len(nonEmpty) {
			t.Fatalf("%d events for %d deltas", len(sent), len(nonEmpty))
		}
		if len(nonEmpty) > 0 && sent[0].Text != nonEmpty[0] {
			t.Fatalf("first event %q, want the first delta %q on its own", sent[0].Text, nonEmpty[0])
		}
	})
}

// Property 9, for streamed answers: whatever each council model streams
// and whatever the flush window, a model's AnswerDelta events all come
// before its ModelAnswered, concatenate exactly to its content, and are
// never more than its non-empty deltas.
func TestPropertyStreamedAnswersConcatenateToTheAnswers(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		window := time.Duration(rapid.SampledFrom([]int{0, 1, 5, 25, 1000}).Draw(t, "window ms")) * time.Millisecond
		pause := time.Duration(rapid.IntRange(0, 300).Draw(t, "pause µs")) * time.Microsecond
		f := newScripted()
		deltas := map[string][]string{}
		for _, m := range testCouncil {
			deltas[m] = deltaText(t, m)
			f.set(m, behavior{deltas: deltas[m], pause: pause}, StageCollect)
		}
		evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", StreamAnswers: true, DeltaFlushWindow: &window})
		if err != nil {
			t.Fatal(err)
		}
		checkStream(t, evs, true)
		text, events, answered := map[string]string{}, map[string]int{}, map[string]bool{}
		for _, e := range evs {
			switch p := e.Payload.(type) {
			case *AnswerDelta:
				if answered[p.Model] || p.Text == "" {
					t.Fatalf("AnswerDelta %q of %s after its answer, or empty", p.Text, p.Model)
				}
				text[p.Model] += p.Text
				events[p.Model]++
			case *ModelAnswered:
				answered[p.Model] = true
				if text[p.Model] != p.Content {
					t.Fatalf("%s: deltas %q, answer %q", p.Model, text[p.Model], p.Content)
				}
			}
		}
		for _, m := range testCouncil {
			nonEmpty := slices.DeleteFunc(slices.Clone(deltas[m]), func(s string) bool { return s == "" })
			if !answered[m] || events[m] > len(nonEmpty) {
				t.Fatalf("%s: answered %v, %d events for %d deltas", m, answered[m], events[m], len(nonEmpty))
			}
		}
	})
}

func TestCoalescingMergesDeltasWithinTheWindow(t *testing.T) {
	deltas := strings.SplitAfter(strings.Repeat("word ", 200), " ")
	f := newScripted().set(testChair, behavior{deltas: deltas}, StageSynthesize)
	// A window far longer than the stream: the first delta goes out at
	// once, the rest in 1 KiB pieces and one last piece.
	window := time.Minute
	evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", DeltaFlushWindow: &window})
	if err != nil {
		t.Fatal(err)
	}
	sent := payloads[*SynthesisDelta](evs)
	if len(sent) != 2 || sent[0].Text != "word " || len(sent[1].Text) != 995 {
		t.Fatalf("got %d deltas, want the first word then the other 995 bytes at the end", len(sent))
	}

	zero := time.Duration(0)
	evs, err = consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", DeltaFlushWindow: &zero})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(payloads[*SynthesisDelta](evs)); n != 200 {
		t.Fatalf("window 0: %d deltas, want every one of the 200", n)
	}
}

func TestStreamAnswers(t *testing.T) {
	f := newScripted()
	for _, m := range testCouncil {
		f.set(m, behavior{deltas: []string{"Answer ", "of ", m}}, StageCollect)
	}
	zero := time.Duration(0)
	evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", StreamAnswers: true, DeltaFlushWindow: &zero})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	text := map[string]string{}
	for _, e := range evs {
		switch p := e.Payload.(type) {
		case *AnswerDelta:
			if _, done := text[p.Model+" done"]; done {
				t.Fatalf("AnswerDelta of %s after its ModelAnswered", p.Model)
			}
			text[p.Model] += p.Text
		case *ModelAnswered:
			if text[p.Model] != p.Content {
				t.Fatalf("%s: deltas %q, answer %q", p.Model, text[p.Model], p.Content)
			}
			text[p.Model+" done"] = ""
		}
	}
	if n := len(payloads[*AnswerDelta](evs)); n != 3*len(testCouncil) {
		t.Fatalf("%d AnswerDelta events, want %d", n, 3*len(testCouncil))
	}

	// Off by default: no answer deltas, and no delta callback on the calls.
	f = newScripted()
	evs, err = consult(newTestCouncil(t, f), context.Background(), Request{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(payloads[*AnswerDelta](evs)); n != 0 {
		t.Fatalf("%d AnswerDelta events without stream_answers", n)
	}
	for _, req := range f.requestsFor(StageCollect) {
		if req.OnDelta != nil {
			t.Fatal("a Stage 1 call has a delta callback without stream_answers")
		}
	}
}

func TestStragglerCutoff(t *testing.T) {
	slow := testCouncil[len(testCouncil)-1]
	gate := make(chan struct{})
	f := newScripted().set(slow, behavior{gate: gate}, StageCollect)
	// The chairman waits for the straggler's answer, so that it arrives
	// late, during synthesis.
	f.set(testChair, behavior{gate: gate, deltas: []string{"final"}}, StageSynthesize)
	c := newTestCouncil(t, f)
	cut := &StragglerCutoff{Floor: time.Millisecond}
	go func() {
		// Open the gate once the review has started: the cut-off has
		// happened by then.
		for len(f.requestsFor(StageReview)) == 0 {
			time.Sleep(time.Millisecond)
		}
		close(gate)
	}()
	evs, err := consult(c, context.Background(), Request{Query: "q", StragglerCutoff: cut})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	cuts := payloads[*StragglersCut](evs)
	if len(cuts) != 1 || !slices.Equal(cuts[0].Models, []string{slow}) {
		t.Fatalf("StragglersCut events %+v, want one naming %s", cuts, slow)
	}
	var late *ModelAnswered
	for _, a := range payloads[*ModelAnswered](evs) {
		if a.Model == slow {
			late = a
		}
	}
	if late == nil || !late.Late {
		t.Fatalf("the straggler's answer is %+v, want it sent and marked late", late)
	}
	for _, req := range f.requestsFor(StageReview) {
		if req.Model == slow || strings.Contains(req.Messages[0].Content, "Answer from "+slow) {
			t.Fatal("the straggler took part in the review")
		}
	}
	done := evs[len(evs)-1].Payload.(*ConsultCompleted)
	if !done.Degraded || !slices.Equal(done.Reasons, []DegradedReason{DegradedStragglerCut}) || !slices.Equal(done.Excluded, []string{slow}) {
		t.Fatalf("completed %+v, want degraded by the straggler cut, %s excluded", done, slow)
	}
}

// The cut-off's deadline is set when the quorum is in and later answers do
// not move it: answers at 100 and 200 ms (median 150 ms) give the rest until
// 350 ms; the answer at 300 ms leaves it there (the median of three would
// be 200 ms, a deadline of 400 ms), so the model answering at 380 ms is cut.
func TestStragglerDeadlineIsSetAtTheQuorum(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newScripted()
		for i, d := range []time.Duration{100, 200, 300, 380} {
			f.set(testCouncil[i], behavior{delay: d * time.Millisecond}, StageCollect)
		}
		evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", StragglerCutoff: &StragglerCutoff{Multiple: 1}})
		if err != nil {
			t.Fatal(err)
		}
		cuts := payloads[*StragglersCut](evs)
		if len(cuts) != 1 || !slices.Equal(cuts[0].Models, []string{testCouncil[3]}) || cuts[0].Waited != 150*time.Millisecond {
			t.Fatalf("StragglersCut events %+v, want one naming %s after 150ms", cuts, testCouncil[3])
		}
	})
}

func TestStragglerStillOutAtTheEndIsCancelled(t *testing.T) {
	slow := testCouncil[0]
	f := newScripted().set(slow, behavior{hang: true}, StageCollect)
	cut := &StragglerCutoff{Multiple: 1}
	evs, err := consult(newTestCouncil(t, f), context.Background(), Request{Query: "q", StragglerCutoff: cut})
	if err != nil {
		t.Fatal(err)
	}
	checkStream(t, evs, true)
	failed := payloads[*ModelFailed](evs)
	if len(failed) != 1 || failed[0].Model != slow || failed[0].Reason != ReasonCanceled || failed[0].Stage != StageCollect {
		t.Fatalf("failures %+v, want the straggler cancelled", failed)
	}
	if f.inFlight.Load() != 0 {
		t.Fatal("a call is still running")
	}

	// Without the cut-off the consultation waits for the call's timeout.
	f = newScripted().set(slow, behavior{delay: 50 * time.Millisecond}, StageCollect)
	evs, err = consult(newTestCouncil(t, f), context.Background(), Request{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(payloads[*StragglersCut](evs)); n != 0 {
		t.Fatal("a cut without the cut-off")
	}
}

func TestStragglerWait(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		cut       StragglerCutoff
		latencies []time.Duration
		want      time.Duration
		on        bool
	}{
		{StragglerCutoff{}, []time.Duration{ms}, 0, false},
		{StragglerCutoff{Floor: 100 * ms}, []time.Duration{300 * ms, 400 * ms}, 100 * ms, true},
		{StragglerCutoff{Multiple: 1}, []time.Duration{300 * ms, 400 * ms}, 350 * ms, true},
		{StragglerCutoff{Floor: 100 * ms, Multiple: 2}, []time.Duration{500 * ms, 300 * ms, 400 * ms}, 800 * ms, true},
	} {
		got, on := tc.cut.wait(tc.latencies)
		if got != tc.want || on != tc.on {
			t.Errorf("%+v.wait(%v) = %v, %v; want %v, %v", tc.cut, tc.latencies, got, on, tc.want, tc.on)
		}
	}
}
