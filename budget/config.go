package budget

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Period is how long a budget lasts before it resets.
type Period int

// Periods. Both are calendar periods in UTC.
const (
	// Day resets at 00:00 UTC.
	Day Period = iota + 1
	// Month resets at 00:00 UTC on the first of the month.
	Month
)

// String returns "day" or "month".
func (p Period) String() string {
	switch p {
	case Day:
		return "day"
	case Month:
		return "month"
	}
	return "unknown"
}

// bounds returns the start of the period that holds t and the start of
// the next one, in UTC.
func (p Period) bounds(t time.Time) (start, end time.Time) {
	t = t.UTC()
	switch p {
	case Month:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	default:
		start = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
}

// Limit is one budget: at most USD US dollars per Period.
type Limit struct {
	USD    float64
	Period Period
}

// DefaultName is the name of the default budget, the one callers without
// a budget of their own get.
const DefaultName = "default"

// Config holds the budgets.
type Config struct {
	// Default applies to every caller Callers does not list; nil means
	// such callers have no budget.
	Default *Limit
	// Callers maps caller identities to their own budgets.
	Callers map[string]Limit
}

// lookup returns the budget of caller and its name: the caller's own
// budget, named after the caller, else the default one; false when
// neither applies.
func (c Config) lookup(caller string) (Limit, string, bool) {
	if l, ok := c.Callers[caller]; ok {
		return l, caller, true
	}
	if c.Default != nil {
		return *c.Default, DefaultName, true
	}
	return Limit{}, "", false
}

// fileLimit is a budget as the file writes it.
type fileLimit struct {
	USD    *float64 `yaml:"usd"`
	Period string   `yaml:"period"`
}

// file is the budgets file.
type file struct {
	Default *fileLimit           `yaml:"default"`
	Callers map[string]fileLimit `yaml:"callers"`
}

// ReadFile reads and parses the budgets file at path (see [Parse]).
func ReadFile(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	return Parse(data)
}

// Parse parses a budgets file: YAML with an optional "default" budget and
// a map "callers" from caller identity to budget, each budget a "usd"
// amount (0 or more, finite) and a "period" ("day" or "month"). Unknown
// keys are errors, and so is a file that sets no budget.
//
//	default: {usd: 5, period: day}
//	callers:
//	  token-1: {usd: 100, period: month}
func Parse(data []byte) (Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var f file
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return Config{}, errors.New("no budget set: the file is empty")
		}
		return Config{}, err
	}
	var cfg Config
	var errs []error
	if f.Default != nil {
		l, err := f.Default.limit()
		if err != nil {
			errs = append(errs, fmt.Errorf("default: %w", err))
		}
		cfg.Default = &l
	}
	if len(f.Callers) > 0 {
		cfg.Callers = make(map[string]Limit, len(f.Callers))
	}
	for caller, fl := range f.Callers {
		if strings.TrimSpace(caller) == "" {
			errs = append(errs, errors.New("callers: a caller identity is empty"))
			continue
		}
		l, err := fl.limit()
		if err != nil {
			errs = append(errs, fmt.Errorf("callers.%s: %w", caller, err))
		}
		cfg.Callers[caller] = l
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	if cfg.Default == nil && len(cfg.Callers) == 0 {
		return Config{}, errors.New("no budget set: want a default budget or callers")
	}
	return cfg, nil
}

// limit checks and converts a budget of the file.
func (f fileLimit) limit() (Limit, error) {
	var l Limit
	switch {
	case f.USD == nil:
		return l, errors.New("usd is missing")
	case math.IsNaN(*f.USD) || math.IsInf(*f.USD, 0) || *f.USD < 0:
		return l, fmt.Errorf("usd %v: want a finite amount, 0 or more", *f.USD)
	}
	l.USD = *f.USD
	switch strings.ToLower(strings.TrimSpace(f.Period)) {
	case "day":
		l.Period = Day
	case "month":
		l.Period = Month
	case "":
		return l, errors.New("period is missing: want day or month")
	default:
		return l, fmt.Errorf("period %q: want day or month", f.Period)
	}
	return l, nil
}
