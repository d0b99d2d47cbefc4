package limiter

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 9, 27, 12, 0, 0, 0, time.UTC)

// requests returns the quotas of a response announcing remaining requests
// until reset.
func requests(limit, remaining int64, reset time.Time, relative bool) []Quota {
	return []Quota{Requests: {Announced: true, Limit: limit, Remaining: remaining, Reset: reset, Relative: relative}}
}

func mustAdmit(t *testing.T, b *budget, now time.Time) uint64 {
	t.Helper()
	ok, probe, until := b.check(now, cost{Requests: 1})
	if !ok {
		t.Fatalf("call refused at +%v (until +%v)", now.Sub(t0), until.Sub(t0))
	}
	return b.take(cost{Requests: 1}, probe)
}

func TestBudgetAnswersOutOfOrder(t *testing.T) {
	t.Parallel()
	var b budget
	first := mustAdmit(t, &b, t0)
	b.settle(t0, t0, requests(4, 3, t0.Add(time.Second), false), time.Time{}, first, false, false, true, 0)
	// Three calls go; the provider processes them in the reverse order.
	a, c, d := mustAdmit(t, &b, t0), mustAdmit(t, &b, t0), mustAdmit(t, &b, t0)
	if ok, _, until := b.check(t0, cost{Requests: 1}); ok || !until.Equal(t0.Add(time.Second)) {
		t.Fatalf("a fifth call in a window of 4 was not held until the reset (ok %v, until %v)", ok, until)
	}
	b.settle(t0, t0, requests(4, 0, t0.Add(time.Second), false), time.Time{}, a, false, false, true, 0)
	b.settle(t0, t0, requests(4, 1, t0.Add(time.Second), false), time.Time{}, c, false, false, true, 0)
	b.settle(t0, t0, requests(4, 2, t0.Add(time.Second), false), time.Time{}, d, false, false, true, 0)
	if got := b.left(int(Requests)); got != 0 {
		t.Fatalf("left %d after the window's 4 calls, want 0", got)
	}
	// The next window: four go at once, and answers arriving out of order
	// do not make the limiter forget what is left.
	next := t0.Add(time.Second)
	seqs := []uint64{mustAdmit(t, &b, next), mustAdmit(t, &b, next)}
	b.settle(next, next, requests(4, 2, next.Add(time.Second), false), time.Time{}, seqs[0], false, false, true, 0)
	b.settle(next, next, requests(4, 3, next.Add(time.Second), false), time.Time{}, seqs[1], false, false, true, 0)
	if got := b.left(int(Requests)); got != 2 {
		t.Fatalf("left %d after 2 of 4 calls answered out of order, want 2", got)
	}
}

func TestBudgetRelativeResetInterval(t *testing.T) {
	t.Parallel()
	var b budget
	seq := mustAdmit(t, &b, t0)
	// Sent at t0, answered 3 s later with "1s" to the reset: the reset lies
	// between t0+1s and t0+4s; the limiter waits for the latter.
	done := t0.Add(3 * time.Second)
	b.settle(t0, done, requests(10, 0, done.Add(time.Second), true), time.Time{}, seq, false, false, true, 0)
	if ok, _, until := b.check(done, cost{Requests: 1}); ok || !until.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("ok %v, until +%v; want held until +4s", ok, until.Sub(t0))
	}
	// A later answer of a call sent before that one, announcing more, is
	// of the same window and does not lift the limit.
	b.out = append(b.out, inFlight{seq: 0, c: cost{Requests: 1}})
	b.settle(t0.Add(-time.Second), done, requests(10, 5, done.Add(1500*time.Millisecond), true), time.Time{}, 0, false, false, true, 0)
	if ok, _, _ := b.check(done, cost{Requests: 1}); ok {
		t.Fatal("a stale announcement lifted the limit")
	}
}

func TestBudgetLearnsThePeriodFrom429s(t *testing.T) {
	t.Parallel()
	const w = 500 * time.Millisecond
	var b budget
	seq := mustAdmit(t, &b, t0)
	b.settle(t0, t0, requests(3, 0, t0.Add(w), false), time.Time{}, seq, false, true, true, 0)
	// The window rolls: three calls go, then the reset is unknown, so one
	// probe goes when nothing else is in flight.
	now := t0.Add(w)
	for range 3 {
		s := mustAdmit(t, &b, now)
		b.settle(now, now, nil, time.Time{}, s, false, false, true, 0)
	}
	ok, probe, _ := b.check(now, cost{Requests: 1})
	if !ok || !probe {
		t.Fatalf("ok %v probe %v; want the probe", ok, probe)
	}
	s := b.take(cost{Requests: 1}, probe)
	if ok, _, until := b.check(now, cost{Requests: 1}); ok || !until.IsZero() {
		t.Fatal("a second probe went while the first was out")
	}
	b.settle(now, now, requests(3, 0, now.Add(w), false), time.Time{}, s, true, true, true, 0)
	if b.w[Requests].period != w {
		t.Fatalf("period %v, want %v", b.w[Requests].period, w)
	}
	// From now on the windows are predicted: three calls per window, the
	// fourth held until the next reset, without a probe.
	now = now.Add(w)
	for range 3 {
		s := mustAdmit(t, &b, now)
		b.settle(now, now, nil, time.Time{}, s, false, false, true, 0)
	}
	if ok, _, until := b.check(now, cost{Requests: 1}); ok || !until.Equal(now.Add(w)) {
		t.Fatalf("ok %v until +%v; want held until the predicted reset", ok, until.Sub(now))
	}
}
