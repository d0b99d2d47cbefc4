package bench

import (
	"strings"
	"testing"
	"time"
)

func TestStatusField(t *testing.T) {
	status := []byte("Name:\tcouncild\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t   40000 kB\nThreads:\t9\n")
	for field, want := range map[string]int64{"VmHWM": 51234 << 10, "VmRSS": 40000 << 10} {
		if got, err := statusField(status, field); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", field, got, err, want)
		}
	}
	for _, field := range []string{"VmSwap", "Threads", "Name"} {
		if got, err := statusField(status, field); err == nil {
			t.Errorf("%s parsed as %d", field, got)
		}
	}
}

func TestStatCPU(t *testing.T) {
	// utime 250 and stime 50 ticks: 3 s. The command name holds a space
	// and a parenthesis.
	stat := []byte("4242 (council d) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 2000000 5000 18446744073709551615\n")
	if got, err := statCPU(stat); err != nil || got != 3*time.Second {
		t.Errorf("statCPU = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{"4242 councild S 1", "4242 (x) S 1 2 3", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 u s 0"} {
		if got, err := statCPU([]byte(bad)); err == nil {
			t.Errorf("%q parsed as %v", bad, got)
		}
	}
}

func TestGoroutineGauge(t *testing.T) {
	metrics := "# HELP go_gc_duration_seconds x\ngo_gc_duration_seconds{quantile=\"0\"} 1e-05\n# HELP go_goroutines Number of goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines 4321\ngo_info{version=\"go1.26\"} 1\n"
	if n, err := goroutineGauge(strings.NewReader(metrics)); err != nil || n != 4321 {
		t.Errorf("goroutineGauge = %d, %v; want 4321", n, err)
	}
	for _, bad := range []string{"", "go_threads 12\n", "go_goroutines many\n", "go_goroutines 1.5\n", "go_goroutines -1\n"} {
		if n, err := goroutineGauge(strings.NewReader(bad)); err == nil {
			t.Errorf("%q parsed as %d", bad, n)
		}
	}
}

func TestIOField(t *testing.T) {
	io := []byte("rchar: 6976\nwchar: 0\nsyscr: 10\nsyscw: 3\n")
	if n, err := ioField(io, "syscr"); err != nil || n != 10 {
		t.Errorf("syscr = %d, %v; want 10", n, err)
	}
	if n, err := ioField(io, "read_bytes"); err == nil {
		t.Errorf("read_bytes parsed as %d", n)
	}
}
