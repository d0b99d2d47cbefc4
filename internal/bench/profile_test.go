package bench_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/councilhq/council/internal/bench"
)

func profile(quorum float64, chairman int, council ...int) bench.Profile {
	p := bench.Profile{ReviewQuorum: quorum, Chairman: bench.Model{ID: "chair", Latency: ms(chairman), TTFT: ms(chairman / 7)}}
	for i, l := range council {
		p.Council = append(p.Council, bench.Model{ID: string(rune('a' + i)), Latency: ms(l)})
	}
	return p
}

func ms(v int) time.Duration { return time.Duration(v) * time.Millisecond }

func TestCriticalPath(t *testing.T) {
	def := bench.CriticalPath(bench.DefaultProfile())
	if def.Collect != ms(600) || def.Review != ms(400) || def.Synthesize != ms(700) || def.Total() != ms(1700) ||
		def.Rankings != 2 || def.Reviewers != 4 || def.ToFirstText() != ms(1100) {
		t.Errorf("default profile: %+v, total %v", def, def.Total())
	}
	for _, tc := range []struct {
		name string
		p    bench.Profile
		want time.Duration
	}{
		{"every ranking", profile(1, 700, 600, 300, 500, 400), ms(600 + 600 + 700)},
		{"a quarter", profile(0.25, 700, 600, 300, 500, 400), ms(600 + 300 + 700)},
		{"three of five", profile(0.5, 100, 50, 10, 40, 20, 30), ms(50 + 30 + 100)},
		{"one model reviews nothing", profile(0.5, 100, 50), ms(50 + 100)},
		{"out-of-range quorum is the default", profile(7, 700, 600, 300, 500, 400), ms(1700)},
	} {
		if got := bench.CriticalPath(tc.p).Total(); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The critical path waits for the slowest answer, then for exactly the
// quorum's share of rankings, then for the chairman.
func TestCriticalPathWaitsForTheQuorum(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		lat := rapid.SliceOfN(rapid.IntRange(1, 5000), 2, 8).Draw(rt, "council")
		q := rapid.Float64Range(0.01, 1).Draw(rt, "quorum")
		p := profile(q, rapid.IntRange(1, 5000).Draw(rt, "chairman"), lat...)
		c := bench.CriticalPath(p)
		slowest, in := 0, 0
		for _, l := range lat {
			slowest = max(slowest, l)
			if ms(l) <= c.Review {
				in++
			}
		}
		need := int(math.Ceil(q * float64(len(lat))))
		if c.Collect != ms(slowest) || c.Rankings != need || c.Reviewers != len(lat) || in < need {
			rt.Fatalf("%+v for %v at quorum %v: %d rankings in by the review time, need %d", c, lat, q, in, need)
		}
		if c.Total() != c.Collect+c.Review+p.Chairman.Latency {
			rt.Fatalf("total %v", c.Total())
		}
	})
}

func TestWordsPerChunk(t *testing.T) {
	p := bench.DefaultProfile()
	words := len(strings.Fields(p.Content))
	if p.Chunks != words {
		t.Errorf("default profile: %d chunks, want a word a chunk (%d)", p.Chunks, words)
	}
	for _, tc := range []struct{ n, want int }{
		{0, words}, {1, words}, {8, (words + 7) / 8}, {words, 1}, {10 * words, 1},
	} {
		if got := p.WithWordsPerChunk(tc.n).Chunks; got != tc.want {
			t.Errorf("%d words a chunk: %d chunks, want %d", tc.n, got, tc.want)
		}
	}
}
