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
	// Every cap has its row; the uncapped, 75 % and 50 % runs are priced,
	// and the 25 % one is priced or refused before any model call (with
	// max_tokens as the output bound, the estimate of Stage 1 may pass a
	// quarter of what the uncapped runs actually cost).
	rows := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		for _, c := range []string{"none", "75 %", "50 %", "25 %"} {
			if strings.HasPrefix(line, "| "+c+" |") {
				rows[c] = line
			}
		}
	}
	for _, c := range []string{"none", "75 %", "50 %"} {
		if !strings.HasPrefix(rows[c], "| "+c+" | $") {
			t.Errorf("row %q is not priced in:\n%s", c, out.String())
		}
	}
	if r := rows["25 %"]; !strings.HasPrefix(r, "| 25 % | $") && !strings.HasSuffix(r, "| 100 % |") {
		t.Errorf("row 25 %% is neither priced nor refused in:\n%s", out.String())
	}
}
