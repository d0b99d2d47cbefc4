package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/councilhq/council/orchestrator"
)

// Model is one fake upstream model and how fast it answers.
type Model struct {
	// ID is the model id, as a request names it.
	ID string
	// Latency is the time from the request to the answer's last byte.
	Latency time.Duration
	// TTFT is the time to the answer's first content delta.
	TTFT time.Duration
	// Jitter, when positive, adds a random delay of up to Jitter to
	// every call's Latency: a heavy tail.
	Jitter time.Duration
}

// Profile is the council a benchmark consults and its upstream latencies.
// Every call to a model takes the model's latency, whatever its stage.
type Profile struct {
	Council  []Model
	Chairman Model
	// ReviewQuorum is the server's orchestrator.Config.ReviewQuorum: the
	// fraction of rankings synthesis waits for. Zero means the default.
	ReviewQuorum float64
	// Content, when set, is every call's answer, so that the upstream
	// spends no time writing one; it must end with a ranking that the
	// reviewers' labels parse. Empty means answers written for each
	// request by the simulated models.
	Content string
	// Chunks is the number of content deltas each streamed answer is cut
	// into; zero means the fake upstream's default (8).
	Chunks int
	// Backups are models the upstream serves besides the council and the
	// chairman, such as the backups calls are hedged with.
	Backups []Model
}

// answer is the default profile's fixed content: about as long as a
// simulated answer, and a ranking of the first three labels, which every
// reviewer of a council of four sees.
const answer = `Short answer: sunlight is scattered by the molecules of the air, and blue light is scattered much more than red.

Rayleigh scattering grows with the inverse fourth power of the wavelength, so blue light at about 450 nm is scattered roughly five times more strongly than red light at about 700 nm. Looking at any part of the sky away from the sun, you see light that was scattered towards you, and that light is mostly blue.

Violet is scattered even more, but the sun emits less of it, some of it is absorbed high in the atmosphere, and our eyes are less sensitive to it, so the sky looks blue rather than violet. At sunrise and sunset the light crosses much more air, most of the blue is scattered away before it reaches you, and the sky near the sun turns orange and red.

FINAL RANKING:
1. Response A
2. Response B
3. Response C
`

// DefaultProfile is four council models answering in 300, 400, 500 and
// 600 ms and a chairman answering in 700 ms, each with its first token
// after 100 ms and the same answer of about 900 bytes, streamed one word
// per chunk as real providers stream tokens.
func DefaultProfile() Profile {
	const ttft = 100 * time.Millisecond
	p := Profile{
		Chairman: Model{ID: "bench/chairman-700ms", Latency: 700 * time.Millisecond, TTFT: ttft},
		Content:  answer,
	}.WithWordsPerChunk(1)
	for _, ms := range []int{300, 400, 500, 600} {
		p.Council = append(p.Council, Model{
			ID:      fmt.Sprintf("bench/council-%dms", ms),
			Latency: time.Duration(ms) * time.Millisecond,
			TTFT:    ttft,
		})
	}
	return p
}

// WithWordsPerChunk returns p with its answers streamed n words to a chunk
// (a word a chunk for n of 1 or less), for measuring what a chunk costs
// against what a call costs whatever its chunks.
func (p Profile) WithWordsPerChunk(n int) Profile {
	n = max(n, 1)
	p.Chunks = max(1, (len(strings.Fields(p.Content))+n-1)/n)
	return p
}

// CouncilIDs returns the council's model ids.
func (p Profile) CouncilIDs() []string {
	ids := make([]string, len(p.Council))
	for i, m := range p.Council {
		ids[i] = m.ID
	}
	return ids
}

// quorum returns the review quorum in effect.
func (p Profile) quorum() float64 {
	if p.ReviewQuorum <= 0 || p.ReviewQuorum > 1 {
		return orchestrator.DefaultConfig().ReviewQuorum
	}
	return p.ReviewQuorum
}

// Path is the critical path of a consultation: the time each stage must
// take given the upstream latencies.
type Path struct {
	// Collect is the slowest council model's answer: Stage 2 needs them all.
	Collect time.Duration
	// Review is the time until the review quorum's rankings are in: the
	// ceil(quorum·n)-th fastest of the n reviewers.
	Review time.Duration
	// Synthesize is the chairman's latency.
	Synthesize time.Duration
	// FirstText is the chairman's time to its first token.
	FirstText time.Duration
	// Rankings is how many rankings synthesis waits for, of Reviewers.
	Rankings, Reviewers int
}

// Total is the shortest possible consultation.
func (c Path) Total() time.Duration { return c.Collect + c.Review + c.Synthesize }

// ToFirstText is the shortest possible time to the final answer's first words.
func (c Path) ToFirstText() time.Duration { return c.Collect + c.Review + c.FirstText }

// CriticalPath computes the critical path of p with the early transition
// to synthesis: every council model answers, every one of them reviews,
// and synthesis starts once ceil(quorum·n) rankings are in.
func CriticalPath(p Profile) Path {
	lat := make([]time.Duration, len(p.Council))
	for i, m := range p.Council {
		lat[i] = m.Latency
	}
	slices.Sort(lat)
	c := Path{Synthesize: p.Chairman.Latency, FirstText: min(p.Chairman.TTFT, p.Chairman.Latency)}
	if len(lat) == 0 {
		return c
	}
	c.Collect = lat[len(lat)-1]
	if len(lat) > 1 {
		c.Reviewers = len(lat)
		c.Rankings = int(math.Ceil(p.quorum() * float64(len(lat))))
		c.Review = lat[c.Rankings-1]
	}
	return c
}
