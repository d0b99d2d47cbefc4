package limitertest_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/councilhq/council/internal/limitertest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// A stopped timer never fires, and Stop reports it once.
func TestClockStop(t *testing.T) {
	t.Parallel()
	clk := limitertest.NewClock(start)
	stopped := clk.NewTimer(time.Second)
	if !stopped.Stop() || stopped.Stop() {
		t.Fatal("Stop of a pending timer must report true once")
	}
	clk.Go(func() { <-clk.NewTimer(2 * time.Second).C() })
	clk.Wait()
	select {
	case <-stopped.C():
		t.Error("a stopped timer fired")
	default:
	}
	if got := clk.Now(); !got.Equal(start.Add(2 * time.Second)) {
		t.Errorf("Now = +%v, want +2s", got.Sub(start))
	}
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
