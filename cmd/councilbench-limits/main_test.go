package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"-calls", "24", "-limit", "10", "-window", "100ms", "-models", "2", "-workers", "8", "-skew", "-150ms"}, &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	words := strings.Join(strings.Fields(out.String()), " ")
	for _, row := range []string{"openai per key", "anthropic per key", "openai per model", "openrouter, clock -150ms per key"} {
		if !strings.Contains(words, row) {
			t.Errorf("no row %q", row)
		}
	}
	for _, name := range []string{"openrouter", "openai", "anthropic", "unlimited"} {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), name+" ") {
				line = l
			}
		}
		// dialect, budget ("per key" or "per model"), failed, …
		fields := strings.Fields(line)
		if len(fields) < 4 {
			t.Fatalf("no row for %s in:\n%s", name, out.String())
		}
		if fields[3] != "0" {
			t.Errorf("%s: %s calls failed", name, fields[3])
		}
	}
}

func TestRunRejectsBadFlags(t *testing.T) {
	if err := run([]string{"-calls", "0"}, new(bytes.Buffer)); err == nil {
		t.Error("a run of zero calls was accepted")
	}
}
