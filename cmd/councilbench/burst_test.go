package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

func TestBurstRefusesAMissingBinary(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	err := run(context.Background(), []string{"-burst", "-burst-capacity", "10", "-councild", filepath.Join(dir, "no-councild"),
		"-log", filepath.Join(dir, "log")}, &out, io.Discard)
	if err == nil || out.Len() > 0 {
		t.Errorf("-burst without councild: error %v, report %q", err, out.String())
	}
}
