package budget

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cfg, err := Parse([]byte(`
# budgets
default: {usd: 5, period: day}
callers:
  token-1: {usd: 100.5, period: month}
  "cert:alice":
    usd: 0
    period: Day
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Default == nil || *cfg.Default != (Limit{USD: 5, Period: Day}) {
		t.Errorf("default = %+v", cfg.Default)
	}
	if cfg.Callers["token-1"] != (Limit{USD: 100.5, Period: Month}) || cfg.Callers["cert:alice"] != (Limit{USD: 0, Period: Day}) || len(cfg.Callers) != 2 {
		t.Errorf("callers = %+v", cfg.Callers)
	}
	l, name, ok := cfg.lookup("token-1")
	if !ok || name != "token-1" || l.Period != Month {
		t.Errorf("lookup(token-1) = %v %q %v", l, name, ok)
	}
	if _, name, ok := cfg.lookup("token-9"); !ok || name != DefaultName {
		t.Errorf("lookup(token-9) = %q %v, want the default", name, ok)
	}

	onlyCallers, err := Parse([]byte("callers:\n  token-2: {usd: 1, period: day}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := onlyCallers.lookup("token-1"); ok {
		t.Error("a caller without a budget and no default got one")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"empty", "", "no budget set"},
		{"nothing", "callers: {}\n", "no budget set"},
		{"unknown key", "default: {usd: 1, period: day, burst: 2}\n", "burst"},
		{"unknown top key", "defaults: {usd: 1, period: day}\n", "defaults"},
		{"negative", "default: {usd: -1, period: day}\n", "default: usd -1"},
		{"infinite", "default: {usd: .inf, period: day}\n", "default: usd +Inf"},
		{"no usd", "callers:\n  token-1: {period: day}\n", "callers.token-1: usd is missing"},
		{"no period", "default: {usd: 1}\n", "period is missing"},
		{"bad period", "default: {usd: 1, period: week}\n", `period "week"`},
		{"not yaml", "default: [\n", "yaml"},
		{"text usd", "default: {usd: five, period: day}\n", "five"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse(%q) = %v, want an error containing %q", tc.in, err, tc.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "budgets.yaml")
	if _, err := ReadFile(path); err == nil {
		t.Error("a missing file was read")
	}
	if err := os.WriteFile(path, []byte("default: {usd: 2, period: month}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := ReadFile(path)
	if err != nil || cfg.Default.USD != 2 {
		t.Errorf("ReadFile = %+v, %v", cfg, err)
	}
}

func TestPeriodBounds(t *testing.T) {
	at := time.Date(2026, 12, 31, 23, 59, 59, 0, time.FixedZone("x", -3600))
	start, end := Day.bounds(at) // 2027-01-01 00:59:59 UTC
	if !start.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2027, 1, 2, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day bounds = %v, %v", start, end)
	}
	start, end = Month.bounds(time.Date(2026, 2, 14, 12, 0, 0, 0, time.UTC))
	if !start.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) || !end.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("month bounds = %v, %v", start, end)
	}
}
