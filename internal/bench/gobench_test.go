package bench_test

import (
	"strings"
	"testing"

	"github.com/councilhq/council/internal/bench"
)

const goTestOutput = `goos: linux
goarch: amd64
pkg: github.com/councilhq/council/orchestrator
cpu: Intel(R) Xeon(R) Processor
BenchmarkConsultOther-2    	    9999	     11 ns/op	       1 B/op	       1 allocs/op
BenchmarkConsult-2         	    3000	    412345 ns/op	  234567 B/op	    2345 allocs/op
PASS
ok  	github.com/councilhq/council/orchestrator	2.345s
`

func TestParseGoBench(t *testing.T) {
	b, err := bench.ParseGoBench(strings.NewReader(goTestOutput), "BenchmarkConsult")
	if err != nil {
		t.Fatal(err)
	}
	want := bench.GoBench{Name: "BenchmarkConsult", N: 3000, NsPerOp: 412345, BytesPerOp: 234567, AllocsPerOp: 2345}
	if *b != want {
		t.Errorf("got %+v, want %+v", *b, want)
	}
	for name, out := range map[string]string{
		"missing":         "PASS\n",
		"without memory":  "BenchmarkConsult-2 100 5 ns/op\n",
		"bad iterations":  "BenchmarkConsult-2 x 5 ns/op 1 B/op 1 allocs/op\n",
		"bad allocations": "BenchmarkConsult 100 5 ns/op 1 B/op many allocs/op\n",
	} {
		if b, err := bench.ParseGoBench(strings.NewReader(out), "BenchmarkConsult"); err == nil {
			t.Errorf("%s: parsed %+v", name, b)
		}
	}
}
