package bench

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// GoBench is one result line of `go test -bench -benchmem`.
type GoBench struct {
	// Name is the benchmark's name without the GOMAXPROCS suffix.
	Name string
	// N is the number of iterations.
	N           int64
	NsPerOp     float64
	BytesPerOp  int64
	AllocsPerOp int64
}

// ParseGoBench returns the result of the benchmark called name (for
// example "BenchmarkConsult") in go test output; when the output holds
// several runs of it, the last one.
func ParseGoBench(r io.Reader, name string) (*GoBench, error) {
	var found *GoBench
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || benchName(f[0]) != name {
			continue
		}
		b := &GoBench{Name: name, BytesPerOp: -1, AllocsPerOp: -1}
		var err error
		if b.N, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return nil, fmt.Errorf("bench: iterations in %q: %w", sc.Text(), err)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, unit := f[i], f[i+1]
			switch unit {
			case "ns/op":
				b.NsPerOp, err = strconv.ParseFloat(v, 64)
			case "B/op":
				b.BytesPerOp, err = strconv.ParseInt(v, 10, 64)
			case "allocs/op":
				b.AllocsPerOp, err = strconv.ParseInt(v, 10, 64)
			}
			if err != nil {
				return nil, fmt.Errorf("bench: %s in %q: %w", unit, sc.Text(), err)
			}
		}
		if b.NsPerOp == 0 || b.AllocsPerOp < 0 {
			return nil, fmt.Errorf("bench: %q lacks ns/op or allocs/op (run with -benchmem)", sc.Text())
		}
		found = b
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("bench: no result for %s", name)
	}
	return found, nil
}

// benchName strips the "-GOMAXPROCS" suffix from a benchmark's name.
func benchName(s string) string {
	if i := strings.LastIndexByte(s, '-'); i > 0 {
		if _, err := strconv.Atoi(s[i+1:]); err == nil {
			return s[:i]
		}
	}
	return s
}
