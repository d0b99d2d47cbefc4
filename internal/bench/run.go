package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Defaults of the zero fields of a [Config].
const (
	DefaultSingle             = 20
	DefaultSamples            = 100
	DefaultConns              = 16
	DefaultThroughputWorkers  = 32
	DefaultConsultTimeout     = 2 * time.Minute
	minRounds                 = 2
	defaultThroughputDuration = 10 * time.Second
)

// DefaultLevels are the concurrency levels measured by default.
func DefaultLevels() []int { return []int{10, 50, 100, 1000} }

// Probe reads the resident memory and CPU time of the server under test.
type Probe interface {
	// ResetPeak starts a new peak measurement.
	ResetPeak() error
	// Peak returns the peak resident memory, in bytes, since the last
	// ResetPeak (or since the server started).
	Peak() (int64, error)
	// Current returns the resident memory now, in bytes.
	Current() (int64, error)
	// CPU returns the CPU time the server has used so far.
	CPU() (time.Duration, error)
}

// SyscallProbe counts the read system calls of the server under test. A
// [Probe] that implements it has them counted per level.
type SyscallProbe interface {
	ReadSyscalls() (int64, error)
}

// GoroutineProbe counts the goroutines of the server under test. A
// [Probe] that implements it also has the goroutines counted during the
// highest concurrency level.
type GoroutineProbe interface {
	Goroutines() (int, error)
}

// Config says what [Run] measures. Zero fields take their defaults.
type Config struct {
	// Addr is the host:port of the council.v1.Council server under test,
	// whose provider is Upstream.
	Addr     string
	Upstream *Upstream
	Profile  Profile
	// Single is how many consultations run one after another to measure a
	// single consultation. Default [DefaultSingle].
	Single int
	// Levels are the concurrency levels. Default [DefaultLevels].
	Levels []int
	// Samples is how many consultations each level aims for: it runs
	// max(2, ceil(Samples/level)) waves of level consultations started at
	// once. Default [DefaultSamples].
	Samples int
	// Conns is the size of the client's gRPC connection pool. Default
	// [DefaultConns].
	Conns int
	// ThroughputWorkers consultations run back to back, each worker
	// starting its next as soon as its last ended, for ThroughputDuration
	// with a zero-latency upstream. Defaults [DefaultThroughputWorkers]
	// and 10 s; a negative duration skips the throughput run.
	ThroughputWorkers  int
	ThroughputDuration time.Duration
	// Probe, when set, measures the server's peak resident memory during
	// the highest concurrency level and its CPU time per consultation in
	// the throughput run.
	Probe Probe
	// ConsultTimeout bounds each consultation. Default [DefaultConsultTimeout].
	ConsultTimeout time.Duration
	// Progress receives a line as each phase ends; nil discards them.
	Progress io.Writer
}

func (c Config) withDefaults() Config {
	if c.Single <= 0 {
		c.Single = DefaultSingle
	}
	if len(c.Levels) == 0 {
		c.Levels = DefaultLevels()
	}
	if c.Samples <= 0 {
		c.Samples = DefaultSamples
	}
	if c.Conns <= 0 {
		c.Conns = DefaultConns
	}
	if c.ThroughputWorkers <= 0 {
		c.ThroughputWorkers = DefaultThroughputWorkers
	}
	if c.ThroughputDuration == 0 {
		c.ThroughputDuration = defaultThroughputDuration
	}
	if c.ConsultTimeout <= 0 {
		c.ConsultTimeout = DefaultConsultTimeout
	}
	if c.Progress == nil {
		c.Progress = io.Discard
	}
	return c
}

// Level is what one concurrency level measured.
type Level struct {
	// Concurrency is how many consultations ran at once; Rounds how many
	// waves of them ran.
	Concurrency, Rounds int
	// Latency is each consultation's duration; FirstEvent and FirstText
	// its time to the first event and to the final answer's first words.
	Latency, FirstEvent, FirstText Dist
	// EmitDelay is, for every answer and ranking event, the time from the
	// upstream writing the answer's last byte to the client receiving the
	// event; ServerEmitDelay the part of it until the server stamped the
	// event's emit time (its reading of the answer and building of the
	// event, before it is encoded and sent). Unmatched counts events
	// without an upstream time.
	EmitDelay, ServerEmitDelay Dist
	Unmatched                  int
	// CallOverhead is, for every answer and ranking, the call's latency
	// as the server measured it minus the model's upstream latency: the
	// time spent sending the request and reading the response.
	CallOverhead Dist
	// UpstreamLate is, for every answer and ranking, how long after its
	// model's latency the fake upstream wrote its last byte: the
	// benchmark's own lag, included in every figure above.
	UpstreamLate Dist
	// Errors counts consultations that did not complete; FirstError is
	// the first of their errors.
	Errors     int
	FirstError string
	// Dials is how many connections the server opened to the upstream,
	// Calls how many calls it made.
	Dials, Calls int64
	// Failures counts ModelFailed events, by reason in FailureReasons,
	// and Degraded the degraded consultations; both are zero in a sound
	// run. Under overload, late reviews cancelled as no longer needed
	// show up as "canceled" failures.
	Failures, Degraded int
	FailureReasons     map[string]int
	// Messages is the mean number of stream messages per completed
	// consultation.
	Messages float64
	// ServerCPU is the CPU time the server used during the level (zero
	// without a Probe).
	ServerCPU time.Duration
	// ReadSyscalls counts the server's read system calls during the
	// level, -1 when unknown.
	ReadSyscalls int64
}

// ReadSyscallsPerConsultation returns the server's read system calls per
// consultation of the level, -1 when unknown.
func (l Level) ReadSyscallsPerConsultation() float64 {
	n := l.Latency.N + l.Errors
	if l.ReadSyscalls < 0 || n == 0 {
		return -1
	}
	return float64(l.ReadSyscalls) / float64(n)
}

// CPUPerConsultation returns the server's CPU time per consultation of
// the level, zero when unknown.
func (l Level) CPUPerConsultation() time.Duration {
	n := l.Latency.N + l.Errors
	if n == 0 {
		return 0
	}
	return l.ServerCPU / time.Duration(n)
}

// Throughput is what the zero-latency run measured.
type Throughput struct {
	Workers       int
	Elapsed       time.Duration
	Consultations int
	Errors        int
	// ServerCPU is the CPU time the server used (zero without a Probe),
	// BenchCPU the time this process used for the clients and the upstream.
	ServerCPU, BenchCPU time.Duration
}

// PerSecond returns the completed consultations per second.
func (t Throughput) PerSecond() float64 {
	if t.Elapsed <= 0 {
		return 0
	}
	return float64(t.Consultations) / t.Elapsed.Seconds()
}

// Memory is the server's resident memory around the highest level.
type Memory struct {
	Concurrency int
	// Before is the resident memory before the level, Peak its peak
	// during the level, both in bytes.
	Before, Peak int64
	// GoroutinesBefore and GoroutinesPeak are the server's goroutines
	// before the level and the most counted during it (sampled every
	// 100 ms); zero when the Probe cannot count them.
	GoroutinesBefore, GoroutinesPeak int
}

// GoroutinesPerConsultation returns the goroutines the server ran per
// consultation in flight at the peak, zero when unknown.
func (m Memory) GoroutinesPerConsultation() float64 {
	if m.GoroutinesPeak == 0 || m.Concurrency == 0 {
		return 0
	}
	return float64(m.GoroutinesPeak-m.GoroutinesBefore) / float64(m.Concurrency)
}

// Result is everything [Run] measured.
type Result struct {
	Profile    Profile
	Path       Path
	Single     Level
	Levels     []Level
	Throughput *Throughput
	Memory     *Memory
	// Orchestrator is the Go benchmark of the orchestrator alone, when given.
	Orchestrator *GoBench
}

// Errors returns the number of consultations that did not complete.
func (r *Result) Errors() int {
	n := r.Single.Errors
	for _, l := range r.Levels {
		n += l.Errors
	}
	if r.Throughput != nil {
		n += r.Throughput.Errors
	}
	return n
}

// Run measures the server at cfg.Addr: a warm-up consultation, cfg.Single
// consultations one at a time, each concurrency level, then the
// zero-latency throughput run. It fails only when the warm-up fails or ctx
// ends; failed consultations later on are counted in the Result.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg = cfg.withDefaults()
	if cfg.Upstream == nil {
		return nil, errors.New("bench: no upstream")
	}
	client, err := Dial(cfg.Addr, cfg.Conns, cfg.Profile)
	if err != nil {
		return nil, err
	}
	defer client.Close()
	r := &runner{cfg: cfg, client: client}
	res := &Result{Profile: cfg.Profile, Path: CriticalPath(cfg.Profile)}

	// One consultation per connection, so that every connection is up.
	warm := r.wave(ctx, "warmup", cfg.Conns)
	if l := r.level(cfg.Conns, 1, warm); l.Errors > 0 {
		return nil, fmt.Errorf("bench: warm-up consultation failed: %s", l.FirstError)
	}
	began := time.Now()
	dials, calls := cfg.Upstream.Connections(), cfg.Upstream.Requests()
	cpu, reads := r.serverCPU(), r.readSyscalls()
	var single []Trace
	for i := range cfg.Single {
		single = append(single, r.consult(ctx, fmt.Sprintf("single-%d", i)))
	}
	res.Single = r.level(1, 1, single)
	res.Single.ServerCPU = r.serverCPUSince(cpu)
	res.Single.ReadSyscalls = r.readSyscallsSince(reads)
	res.Single.Dials, res.Single.Calls = cfg.Upstream.Connections()-dials, int64(cfg.Upstream.Requests()-calls)
	r.progress("single", res.Single, began)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	top := slices.Max(cfg.Levels)
	for _, n := range cfg.Levels {
		rounds := max(minRounds, (cfg.Samples+n-1)/n)
		if n == top && cfg.Probe != nil {
			m, err := r.withMemory(ctx, n, rounds, res)
			if err != nil {
				return nil, err
			}
			res.Memory = m
			continue
		}
		res.Levels = append(res.Levels, r.runLevel(ctx, n, rounds))
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}

	if cfg.ThroughputDuration > 0 {
		t := r.throughput(ctx)
		res.Throughput = &t
		fmt.Fprintf(cfg.Progress, "throughput: %d consultations in %v with %d workers\n", t.Consultations, t.Elapsed.Round(time.Millisecond), t.Workers)
	}
	return res, ctx.Err()
}

// runner holds what the phases of Run share.
type runner struct {
	cfg    Config
	client *Client
}

func (r *runner) consult(ctx context.Context, tag string) Trace {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.ConsultTimeout)
	defer cancel()
	return r.client.Consult(ctx, tag)
}

// withMemory runs the level n with the server's peak memory measured.
func (r *runner) withMemory(ctx context.Context, n, rounds int, res *Result) (*Memory, error) {
	m := &Memory{Concurrency: n}
	var err error
	if m.Before, err = r.cfg.Probe.Current(); err != nil {
		return nil, fmt.Errorf("bench: reading the server's memory: %w", err)
	}
	if err := r.cfg.Probe.ResetPeak(); err != nil {
		return nil, fmt.Errorf("bench: resetting the server's peak memory: %w", err)
	}
	stop := func() {}
	if gp, ok := r.cfg.Probe.(GoroutineProbe); ok {
		if before, err := gp.Goroutines(); err == nil {
			m.GoroutinesBefore = before
			stop = sampleGoroutines(gp, &m.GoroutinesPeak)
		}
	}
	res.Levels = append(res.Levels, r.runLevel(ctx, n, rounds))
	stop()
	if m.Peak, err = r.cfg.Probe.Peak(); err != nil {
		return nil, fmt.Errorf("bench: reading the server's peak memory: %w", err)
	}
	return m, nil
}

// sampleGoroutines counts gp's goroutines every 100 ms into *peak, the
// most seen, until the returned stop is called.
func sampleGoroutines(gp GoroutineProbe, peak *int) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if n, err := gp.Goroutines(); err == nil && n > *peak {
					*peak = n
				}
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// runLevel runs rounds waves of n consultations started together.
func (r *runner) runLevel(ctx context.Context, n, rounds int) Level {
	began := time.Now()
	dials, calls := r.cfg.Upstream.Connections(), r.cfg.Upstream.Requests()
	cpu, reads := r.serverCPU(), r.readSyscalls()
	var all []Trace
	for round := range rounds {
		all = append(all, r.wave(ctx, fmt.Sprintf("c%d-r%d", n, round), n)...)
	}
	l := r.level(n, rounds, all)
	l.ServerCPU = r.serverCPUSince(cpu)
	l.ReadSyscalls = r.readSyscallsSince(reads)
	l.Dials, l.Calls = r.cfg.Upstream.Connections()-dials, int64(r.cfg.Upstream.Requests()-calls)
	r.progress(fmt.Sprintf("%d concurrent", n), l, began)
	return l
}

// wave starts n consultations at once and waits for them all.
func (r *runner) wave(ctx context.Context, prefix string, n int) []Trace {
	traces := make([]Trace, n)
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-gate
			traces[i] = r.consult(ctx, fmt.Sprintf("%s-%d", prefix, i))
		})
	}
	close(gate)
	wg.Wait()
	return traces
}

// level summarizes the traces of one level, matching each answer and
// ranking event with the upstream's last-byte time.
func (r *runner) level(n, rounds int, traces []Trace) Level {
	l := Level{Concurrency: n, Rounds: rounds}
	var lat, first, text, emit, serverEmit, overhead, late []time.Duration
	messages := 0
	models := append(r.cfg.Profile.CouncilIDs(), r.cfg.Profile.Chairman.ID)
	upstreamLatency := make(map[string]time.Duration, len(r.cfg.Profile.Council))
	for _, m := range r.cfg.Profile.Council {
		upstreamLatency[m.ID] = m.Latency
	}
	for _, tr := range traces {
		ended := r.cfg.Upstream.Take(tr.Tag, models)
		for _, a := range tr.Arrivals {
			i := 0
			if a.Ranking {
				i = 1
			}
			if es := ended[a.Model]; i < len(es) {
				emit = append(emit, a.At.Sub(es[i].At))
				serverEmit = append(serverEmit, a.Emitted.Sub(es[i].At))
				late = append(late, es[i].Late)
			} else {
				l.Unmatched++
			}
			if ul, ok := upstreamLatency[a.Model]; ok {
				overhead = append(overhead, a.Latency-ul)
			}
		}
		for _, reason := range tr.Failures {
			if l.FailureReasons == nil {
				l.FailureReasons = make(map[string]int)
			}
			l.FailureReasons[reason]++
			l.Failures++
		}
		if tr.Degraded {
			l.Degraded++
		}
		if tr.Err != nil || !tr.Completed {
			if l.Errors == 0 {
				l.FirstError = fmt.Sprint(tr.Err)
			}
			l.Errors++
			continue
		}
		lat = append(lat, tr.Done)
		messages += tr.Messages
		first = append(first, tr.FirstEvent)
		if tr.FirstText > 0 {
			text = append(text, tr.FirstText)
		}
	}
	l.Latency, l.FirstEvent, l.FirstText = Summarize(lat), Summarize(first), Summarize(text)
	l.EmitDelay, l.ServerEmitDelay = Summarize(emit), Summarize(serverEmit)
	l.CallOverhead, l.UpstreamLate = Summarize(overhead), Summarize(late)
	if len(lat) > 0 {
		l.Messages = float64(messages) / float64(len(lat))
	}
	return l
}

// throughput runs the zero-latency throughput phase.
func (r *runner) throughput(ctx context.Context) Throughput {
	zero := r.cfg.Profile
	zero.Council = slices.Clone(zero.Council)
	for i := range zero.Council {
		zero.Council[i].Latency, zero.Council[i].TTFT = 0, 0
	}
	zero.Chairman.Latency, zero.Chairman.TTFT = 0, 0
	u := r.cfg.Upstream
	u.SetRecording(false)
	u.SetProfile(zero)
	defer func() {
		u.SetProfile(r.cfg.Profile)
		u.SetRecording(true)
	}()

	t := Throughput{Workers: r.cfg.ThroughputWorkers}
	var mu sync.Mutex
	serverCPU := r.serverCPU()
	benchCPU := selfCPU()
	began := time.Now()
	deadline := began.Add(r.cfg.ThroughputDuration)
	var wg sync.WaitGroup
	for w := range t.Workers {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				tr := r.consult(ctx, fmt.Sprintf("tp-%d-%d", w, i))
				mu.Lock()
				if tr.Err != nil || !tr.Completed {
					t.Errors++
				} else {
					t.Consultations++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	t.Elapsed = time.Since(began)
	t.BenchCPU = selfCPU() - benchCPU
	if serverCPU >= 0 {
		t.ServerCPU = r.serverCPU() - serverCPU
	}
	return t
}

// serverCPU returns the server's CPU time so far, or -1 when unknown.
func (r *runner) serverCPU() time.Duration {
	if r.cfg.Probe == nil {
		return -1
	}
	d, err := r.cfg.Probe.CPU()
	if err != nil {
		return -1
	}
	return d
}

// serverCPUSince returns the server's CPU time since it was before (a
// serverCPU reading), or zero when unknown.
func (r *runner) serverCPUSince(before time.Duration) time.Duration {
	now := r.serverCPU()
	if before < 0 || now < 0 {
		return 0
	}
	return now - before
}

// readSyscalls returns the server's read system calls so far, or -1 when
// unknown.
func (r *runner) readSyscalls() int64 {
	sp, ok := r.cfg.Probe.(SyscallProbe)
	if !ok {
		return -1
	}
	n, err := sp.ReadSyscalls()
	if err != nil {
		return -1
	}
	return n
}

// readSyscallsSince returns the server's read system calls since before (a
// readSyscalls reading), or -1 when unknown.
func (r *runner) readSyscallsSince(before int64) int64 {
	now := r.readSyscalls()
	if before < 0 || now < 0 {
		return -1
	}
	return now - before
}

// selfCPU returns the CPU time this process has used so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (r *runner) progress(name string, l Level, began time.Time) {
	fmt.Fprintf(r.cfg.Progress, "%s: %d consultations in %v, p50 %v, p99 %v, %d errors\n",
		name, l.Latency.N+l.Errors, time.Since(began).Round(time.Millisecond),
		l.Latency.P50.Round(time.Millisecond), l.Latency.P99.Round(time.Millisecond), l.Errors)
}
