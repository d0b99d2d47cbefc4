package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseLevels(t *testing.T) {
	got, err := parseLevels(" 10, 50,1000 ")
	if err != nil || !slices.Equal(got, []int{10, 50, 1000}) {
		t.Errorf("parseLevels = %v, %v", got, err)
	}
	for _, bad := range []string{"", "10,,20", "0", "-5", "ten"} {
		if got, err := parseLevels(bad); err == nil {
			t.Errorf("parseLevels(%q) = %v", bad, got)
		}
	}
}

func TestServerEnvFlag(t *testing.T) {
	var e envList
	for _, v := range []string{"A=1", "B=x=y", "C="} {
		if err := e.Set(v); err != nil {
			t.Errorf("Set(%q): %v", v, err)
		}
	}
	for _, bad := range []string{"A", "=1", ""} {
		if err := e.Set(bad); err == nil {
			t.Errorf("Set(%q) accepted", bad)
		}
	}
	if e.String() != "A=1 B=x=y C=" {
		t.Errorf("String() = %q", e.String())
	}
}

func TestRunRefusesBadSetups(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"unknown flag":   {"-nope"},
		"bad levels":     {"-levels", "1,x"},
		"missing bench":  {"-orchestrator-bench", filepath.Join(dir, "missing.txt")},
		"missing binary": {"-councild", filepath.Join(dir, "no-councild"), "-log", filepath.Join(dir, "log")},
		"unwritable log": {"-log", filepath.Join(dir, "no", "such", "dir", "log")},
		"zero level":     {"-levels", "0"},
	} {
		var out strings.Builder
		if err := run(context.Background(), args, &out, io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed a report:\n%s", name, out.String())
		}
	}
	if err := run(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
