package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// councild is the binary the soaks run, built once by TestMain.
var councild string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "councilsoak-test")
	if err != nil {
		panic(err)
	}
	councild = filepath.Join(dir, "councild")
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) { _ = os.RemoveAll(dir) }))
}

// buildCouncild builds councild for the soaks, once, or skips the test
// under the race detector: the soaks measure councild under load, which
// the detector's slowdown of their own client and fake upstream would
// distort, so make test runs them in a step of their own without it.
func buildCouncild(t *testing.T) string {
	t.Helper()
	if raceDetector {
		t.Skip("the soak runs without the race detector (make test runs it in a step of its own)")
	}
	buildOnce.Do(func() {
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", councild,
			"github.com/councilhq/council/cmd/councild").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building councild: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return councild
}

var (
	buildOnce sync.Once
	buildErr  error
)

// TestSoakSmall runs a short soak with many fast faults and checks the
// report's shape.
func TestSoakSmall(t *testing.T) {
	bin := buildCouncild(t)
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{
		"-councild", bin,
		"-concurrency", "12", "-duration", "1s", "-fault-rate", "0.3",
		"-ttft", "5ms", "-latency", "20ms", "-call-timeout", "500ms", "-conns", "3",
	}, &out)
	report := out.String()
	if err != nil {
		t.Fatalf("soak: %v\n%s", err, report)
	}
	for _, want := range []string{
		"12 concurrent consultations for 1s",
		"peak in flight 12",
		"expected from the faults:", "failed, not explained:",
		"model failures (ModelFailed):", "cooldowns started:", "attempts held back:",
		"errors that should not happen: 0",
		"councild goroutines:", "councild memory (VmRSS):", "VmHWM",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}

// TestSoak holds 200 consultations for 15 s with 5 % of upstream requests
// failing, and checks that no consultation fails beyond what the faults it
// drew explain (allowing 0.1 % of those started) and that nothing that
// should never happen did.
func TestSoak(t *testing.T) {
	bin := buildCouncild(t)
	if testing.Short() {
		t.Skip("a 15 s soak")
	}
	cfg, err := parseFlags([]string{
		"-councild", bin, "-concurrency", "200", "-duration", "15s", "-fault-rate", "0.05",
		"-call-timeout", "5s",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := soak(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	rep.print(&out)
	t.Log("\n" + out.String())
	if err := rep.verdict(); err != nil {
		t.Error(err)
	}
	unexplained := sum(rep.unexplained)
	if allowed := float64(rep.started) / 1000; float64(unexplained) > allowed {
		t.Errorf("%d consultations failed without faults to explain it (%v), want at most %.1f (0.1%% of %d started)",
			unexplained, rep.unexplained, allowed, rep.started)
	}
	if rep.started < cfg.concurrency || rep.cutOff > 0 {
		t.Errorf("%d consultations started, %d cut off", rep.started, rep.cutOff)
	}
}

func TestParseFlagsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"-concurrency", "0"},
		{"-concurrency", "10001"},
		{"-duration", "0s"},
		{"-duration", "2h"},
		{"-fault-rate", "1.5"},
		{"-ttft", "2s", "-latency", "1s"},
		{"-conns", "20", "-concurrency", "10"},
		{"-server-env", "NOEQUALS"},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
