package admission

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestControllerAdmitsUpToTheLimit(t *testing.T) {
	c, err := NewController(Config{Max: 100, Min: 2, Initial: 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if !c.Acquire() {
			t.Fatalf("consultation %d refused under a limit of 3", i+1)
		}
	}
	if c.Acquire() {
		t.Fatal("a fourth consultation was admitted under a limit of 3")
	}
	c.Observe(0) // the baseline; in use, so the limit grows
	if c.Limit() != 4 || c.InFlight() != 3 {
		t.Fatalf("limit %d, in flight %d; want 4 and 3", c.Limit(), c.InFlight())
	}
	c.Observe(time.Second) // overloaded: cut to the floor at most by half
	if c.Limit() != 2 {
		t.Fatalf("after an overloaded window the limit is %d, want 2", c.Limit())
	}
	if c.Acquire() {
		t.Fatal("admitted over a limit cut below the consultations in flight")
	}
	for range 3 {
		c.Release()
	}
	if c.InFlight() != 0 || !c.Acquire() {
		t.Fatalf("after the releases: in flight %d, or refused", c.InFlight())
	}
}

// TestSchedDelaySeesCPUSaturation runs more CPU-bound goroutines than
// there are CPUs, so that runnable goroutines wait for one, and checks
// that the scheduler delay of that window exceeds that of a quiet window.
func TestSchedDelaySeesCPUSaturation(t *testing.T) {
	d := NewSchedDelay()
	quiet := d.Next(0.99)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 * runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for ctx.Err() == nil {
				// Yield now and then, so that each goroutine is queued
				// behind the others many times.
				for range 10000 {
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	busy := d.Next(0.99)
	if busy <= quiet || busy == 0 {
		t.Errorf("scheduler delay: quiet window %v, saturated window %v; want the saturated one longer", quiet, busy)
	}
}

func TestQuantile(t *testing.T) {
	buckets := []float64{0, 0.001, 0.01, 0.1, 1}
	counts := []uint64{90, 5, 4, 1}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, time.Millisecond}, {0.9, time.Millisecond}, {0.95, 10 * time.Millisecond}, {0.99, 100 * time.Millisecond}, {1, time.Second}} {
		if got := quantile(counts, buckets, 100, tc.q); got != tc.want {
			t.Errorf("quantile %v = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(counts, buckets, 0, 0.5); got != 0 {
		t.Errorf("empty histogram: %v", got)
	}
}

// TestRunUpdatesUntilCancelled runs the controller with 1 ms windows while
// one consultation fills a limit of one, its floor, and checks that the
// windows raise it (most 1 ms windows see no scheduler delay at all, so
// they are within the tolerance) and that Run returns once its context
// ends.
func TestRunUpdatesUntilCancelled(t *testing.T) {
	c, err := NewController(Config{Max: 1000, Min: 1, Initial: 1}, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Acquire() {
		t.Fatal("refused under a limit of one")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	deadline := time.After(30 * time.Second)
	for c.Limit() == 1 {
		select {
		case <-deadline:
			t.Fatal("the limit did not move in 30 s of 1 ms windows")
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	<-done
}
