package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSoakSmall(t *testing.T) {
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	err := run(ctx, []string{
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
		"errors that should not happen: 0",
		"goroutines:", "resident memory (VmRSS):", "VmHWM",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
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
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}
