package main

import (
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestTable(t *testing.T) {
	var out strings.Builder
	if err := run([]string{"-questions", "2", "-answer-tokens", "128", "-ranking-tokens", "128", "-synthesis-tokens", "256"}, &out); err != nil {
		t.Fatal(err)
	}
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| none") || strings.HasPrefix(line, "| 75 %") || strings.HasPrefix(line, "| 50 %") || strings.HasPrefix(line, "| 25 %") {
			rows++
		}
	}
	if rows != 4 || !strings.Contains(out.String(), "| none | $") || !strings.Contains(out.String(), "| 25 % | $") {
		t.Errorf("table:\n%s", out.String())
	}
}
