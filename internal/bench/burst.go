package bench

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/councilhq/council/internal/quantile"
)

// Defaults of [BurstConfig].
var (
	// DefaultBurstFactors are the burst sizes as multiples of the
	// capacity.
	DefaultBurstFactors = []float64{1, 2, 5}
	// DefaultProbeLevels are the waves that find the capacity.
	DefaultProbeLevels = []int{25, 50, 100, 200, 400, 800, 1600}
)

// CapacitySlowdown is the slowdown that bounds the capacity: the machine
// serves a wave of consultations within its capacity with a p99 of at
// most this multiple of a single consultation (the design's 120 %).
const CapacitySlowdown = 1.2

// BurstConfig configures [ProbeCapacity] and [RunBursts].
type BurstConfig struct {
	// Addr is councild's address.
	Addr    string
	Profile Profile
	// Conns is the number of gRPC connections the clients share.
	Conns int
	// Single is a single consultation's duration, the unit of the
	// ratios; RunBursts measures it when it is zero.
	Single time.Duration
	// ProbeLevels are the waves ProbeCapacity tries, smallest first.
	ProbeLevels []int
	// Capacity is what the bursts are multiples of.
	Capacity int
	// Factors are the burst sizes as multiples of Capacity.
	Factors []float64
	// ConsultTimeout bounds each consultation.
	ConsultTimeout time.Duration
	// Progress receives a line per wave; nil discards them.
	Progress io.Writer
}

func (c BurstConfig) withDefaults() BurstConfig {
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if len(c.ProbeLevels) == 0 {
		c.ProbeLevels = DefaultProbeLevels
	}
	if len(c.Factors) == 0 {
		c.Factors = DefaultBurstFactors
	}
	if c.ConsultTimeout <= 0 {
		c.ConsultTimeout = DefaultConsultTimeout
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Burst is one burst: Size consultations started at the same instant.
type Burst struct {
	Factor float64
	Size   int
	// Served completed; Shed were refused with RESOURCE_EXHAUSTED; Failed
	// ended otherwise, FirstError being the first such error.
	Served, Shed, Failed int
	FirstError           string
	// ServedLatency is the duration of the served consultations,
	// ShedLatency the time to the refusal of the shed ones.
	ServedLatency, ShedLatency Dist
}

// BurstResult is what [RunBursts] measured.
type BurstResult struct {
	Single   time.Duration
	Capacity int
	// Probe is the p99 of each probe wave, by wave size.
	Probe  map[int]time.Duration
	Bursts []Burst
}

// ProbeCapacity measures a single consultation (when cfg.Single is zero)
// and then the largest of cfg.ProbeLevels whose wave is served with a p99
// within [CapacitySlowdown] times it: the machine's capacity. councild
// must admit every consultation of the waves (adaptive admission off).
// It fills res.Single, res.Capacity and res.Probe.
func ProbeCapacity(ctx context.Context, cfg BurstConfig, res *BurstResult) error {
	cfg = cfg.withDefaults()
	c, err := Dial(cfg.Addr, cfg.Conns, cfg.Profile)
	if err != nil {
		return err
	}
	defer c.Close()
	if res.Single = cfg.Single; res.Single == 0 {
		if res.Single, err = MeasureSingle(ctx, cfg); err != nil {
			return err
		}
	}
	res.Probe = map[int]time.Duration{}
	res.Capacity = cfg.ProbeLevels[0]
	for _, n := range cfg.ProbeLevels {
		b := burstWave(ctx, c, cfg, fmt.Sprintf("probe-%d", n), n)
		res.Probe[n] = b.ServedLatency.P99
		fmt.Fprintf(cfg.Progress, "probe %d at once: served %d, shed %d, failed %d, p99 %v\n",
			n, b.Served, b.Shed, b.Failed, b.ServedLatency.P99.Round(time.Millisecond))
		if b.Served != n || float64(b.ServedLatency.P99) > CapacitySlowdown*float64(res.Single) {
			break
		}
		res.Capacity = n
	}
	return nil
}

// MeasureSingle returns the median duration of five consultations run one
// after another.
func MeasureSingle(ctx context.Context, cfg BurstConfig) (time.Duration, error) {
	cfg = cfg.withDefaults()
	c, err := Dial(cfg.Addr, cfg.Conns, cfg.Profile)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var ds []time.Duration
	for i := range 5 {
		tr := burstConsult(ctx, c, cfg, fmt.Sprintf("single-%d", i))
		if tr.Err != nil {
			return 0, fmt.Errorf("single consultation: %w", tr.Err)
		}
		ds = append(ds, tr.Done)
	}
	single := quantile.Of(ds, 50)
	fmt.Fprintf(cfg.Progress, "single consultation: p50 %v\n", single.Round(time.Millisecond))
	return single, nil
}

// RunBursts starts, one after another, a wave of cfg.Capacity
// consultations to let councild's admission limit settle, then a burst of
// each of cfg.Factors times cfg.Capacity, and records what was served and
// what was shed. It fills res.Capacity, res.Single and res.Bursts.
func RunBursts(ctx context.Context, cfg BurstConfig, res *BurstResult) error {
	cfg = cfg.withDefaults()
	if cfg.Capacity <= 0 || cfg.Single <= 0 {
		return fmt.Errorf("bench: bursts need a capacity (%d) and a single consultation's duration (%v)", cfg.Capacity, cfg.Single)
	}
	res.Capacity, res.Single = cfg.Capacity, cfg.Single
	c, err := Dial(cfg.Addr, cfg.Conns, cfg.Profile)
	if err != nil {
		return err
	}
	defer c.Close()
	warm := burstWave(ctx, c, cfg, "settle", cfg.Capacity)
	fmt.Fprintf(cfg.Progress, "settling wave of %d: served %d, shed %d, failed %d\n", cfg.Capacity, warm.Served, warm.Shed, warm.Failed)
	for _, f := range cfg.Factors {
		n := max(1, int(f*float64(cfg.Capacity)+0.5))
		b := burstWave(ctx, c, cfg, fmt.Sprintf("burst-%d", n), n)
		b.Factor = f
		res.Bursts = append(res.Bursts, b)
		fmt.Fprintf(cfg.Progress, "burst of %d (%gx): served %d (p50 %v, p99 %v), shed %d (p99 %v), failed %d\n",
			n, f, b.Served, b.ServedLatency.P50.Round(time.Millisecond), b.ServedLatency.P99.Round(time.Millisecond),
			b.Shed, b.ShedLatency.P99.Round(time.Millisecond), b.Failed)
	}
	return nil
}

// burstConsult runs one consultation under cfg.ConsultTimeout.
func burstConsult(ctx context.Context, c *Client, cfg BurstConfig, tag string) Trace {
	ctx, cancel := context.WithTimeout(ctx, cfg.ConsultTimeout)
	defer cancel()
	return c.Consult(ctx, tag)
}

// burstWave starts n consultations at the same instant and sorts their
// outcomes.
func burstWave(ctx context.Context, c *Client, cfg BurstConfig, prefix string, n int) Burst {
	traces := make([]Trace, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-gate
			traces[i] = burstConsult(ctx, c, cfg, fmt.Sprintf("%s-%d", prefix, i))
		})
	}
	close(gate)
	wg.Wait()

	b := Burst{Size: n}
	var served, shed []time.Duration
	for _, tr := range traces {
		switch {
		case tr.Err == nil && tr.Completed:
			b.Served++
			served = append(served, tr.Done)
		case status.Code(tr.Err) == codes.ResourceExhausted && tr.FirstEvent == 0:
			b.Shed++
			shed = append(shed, tr.Done)
		default:
			if b.Failed++; b.FirstError == "" {
				b.FirstError = fmt.Sprint(tr.Err)
			}
		}
	}
	b.ServedLatency, b.ShedLatency = Summarize(served), Summarize(shed)
	return b
}

// WriteBurstReport writes the burst table of res in Markdown.
func WriteBurstReport(w io.Writer, res *BurstResult) error {
	ratio := func(d time.Duration) string {
		if d == 0 || res.Single == 0 {
			return "–"
		}
		return fmt.Sprintf("%.2f×", float64(d)/float64(res.Single))
	}
	p99 := func(d Dist) string {
		if d.N == 0 {
			return "–"
		}
		return ms(d.P99)
	}
	if len(res.Probe) == 0 {
		fmt.Fprintf(w, "Capacity: %d consultations at once, as given; a single consultation takes %s.\n\n", res.Capacity, ms(res.Single))
	} else {
		fmt.Fprintf(w, "Capacity: %d consultations at once, the largest probe wave served with p99 within %.0f%% of a single consultation (%s) with adaptive admission off.\n\n",
			res.Capacity, 100*CapacitySlowdown, ms(res.Single))
		sizes := slices.Sorted(maps.Keys(res.Probe))
		parts := make([]string, len(sizes))
		for i, n := range sizes {
			parts[i] = fmt.Sprintf("%d at once %s", n, ratio(res.Probe[n]))
		}
		fmt.Fprintf(w, "Probe waves, p99 as a ratio to a single consultation: %s.\n\n", strings.Join(parts, ", "))
	}
	fmt.Fprintln(w, "| Burst | At once | Served | Shed | Failed | Served p50 | Served p99 | Shed p99 |")
	fmt.Fprintln(w, "|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, b := range res.Bursts {
		fmt.Fprintf(w, "| %g× capacity | %d | %d | %d | %d | %s | %s | %s |\n",
			b.Factor, b.Size, b.Served, b.Shed, b.Failed, ratio(b.ServedLatency.P50), ratio(b.ServedLatency.P99), p99(b.ShedLatency))
	}
	for _, b := range res.Bursts {
		if b.Failed > 0 {
			fmt.Fprintf(w, "\nAt %g× capacity, %d consultations failed; the first: %s\n", b.Factor, b.Failed, b.FirstError)
		}
	}
	return nil
}
