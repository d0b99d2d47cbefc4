package bench_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/internal/syncbuf"
)

func TestProcess(t *testing.T) {
	// A stand-in server that logs like councild and waits for SIGTERM.
	script := `echo "time=now level=INFO msg=listening addr=127.0.0.1:4321 provider=openrouter" >&2; echo "$BENCH_PROBE" >&2; exec sleep 600`
	var log syncbuf.Buffer
	p, err := bench.StartProcess("/bin/sh", []string{"-c", script}, []string{"BENCH_PROBE=env-passed"}, &log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Stop(context.Background()) }) // Stop may be called twice
	if p.Addr != "127.0.0.1:4321" {
		t.Errorf("Addr %q", p.Addr)
	}
	rss, err := p.Current()
	if err != nil || rss <= 0 {
		t.Errorf("Current() = %d, %v", rss, err)
	}
	if err := p.ResetPeak(); err != nil {
		t.Errorf("ResetPeak: %v", err)
	}
	if peak, err := p.Peak(); err != nil || peak <= 0 {
		t.Errorf("Peak() = %d, %v", peak, err)
	}
	if cpu, err := p.CPU(); err != nil || cpu < 0 || cpu > time.Minute {
		t.Errorf("CPU() = %v, %v", cpu, err)
	}
	deadline := time.Now().Add(patience)
	for !strings.Contains(log.String(), "env-passed") {
		if time.Now().After(deadline) {
			t.Fatalf("log %q lacks the environment variable's value", log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := p.Stop(ctx); err != nil {
		t.Errorf("Stop: %v", err)
	}
}

func TestProcessThatNeverListens(t *testing.T) {
	var log syncbuf.Buffer
	if _, err := bench.StartProcess("/bin/sh", []string{"-c", "echo cannot start >&2; exit 3"}, nil, &log); err == nil {
		t.Fatal("no error for a server that exited")
	}
	if !strings.Contains(log.String(), "cannot start") {
		t.Errorf("log %q", log.String())
	}
}
