package limitertest_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/limitertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestClockAdvanceFiresInOrder(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(start)
	late, early, stopped := clk.NewTimer(3*time.Second), clk.NewTimer(time.Second), clk.NewTimer(2*time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a pending timer must report true once")
	}
	clk.Advance(2 * time.Second)
	select {
	case at := <-early.C():
		if !at.Equal(start.Add(time.Second)) {
			t.Errorf("early timer fired at %v", at.Sub(start))
		}
	default:
		t.Fatal("the 1s timer did not fire after 2s")
	}
	select {
	case <-late.C():
		t.Fatal("the 3s timer fired after 2s")
	default:
	}
	clk.Advance(time.Second)
	if at := <-late.C(); !at.Equal(start.Add(3 * time.Second)) {
		t.Errorf("late timer fired at %v", at.Sub(start))
	}
	if got := clk.Now(); !got.Equal(start.Add(3 * time.Second)) {
		t.Errorf("Now = %v after advancing 3s", got.Sub(start))
	}
}

func TestClockBlockUntil(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(start)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-clk.NewTimer(time.Minute).C()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	<-done
}

// In a simulation, each actor's waits last exactly as long as asked, in
// fake time, whatever the interleaving.
func TestClockSimulation(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(start)
	var mu sync.Mutex
	woke := map[int]time.Time{}
	for i := 1; i <= 5; i++ {
		clk.Go(func() {
			for range i {
				<-clk.NewTimer(time.Duration(i) * time.Second).C()
			}
			mu.Lock()
			woke[i] = clk.Now()
			mu.Unlock()
		})
	}
	clk.Wait()
	for i := 1; i <= 5; i++ {
		if want := start.Add(time.Duration(i*i) * time.Second); !woke[i].Equal(want) {
			t.Errorf("actor %d finished at +%v, want +%v", i, woke[i].Sub(start), want.Sub(start))
		}
	}
}
