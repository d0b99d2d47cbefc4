// Command councilbench measures the latency the council service adds to
// its model calls. It starts a fake OpenRouter with fixed per-model
// latencies in its own process and councild as a separate process pointed
// at it, then measures over gRPC: a single consultation against the
// critical path computed from the latencies, waves of concurrent
// consultations, the delay from an upstream answer's last byte to its
// event reaching the client, councild's peak resident memory and its
// throughput against a zero-latency upstream. It prints a Markdown report.
//
//	go build -o bin/ ./cmd/councild && go run ./cmd/councilbench -councild bin/councild
//
// Run it through make bench, which also runs the orchestrator's Go
// benchmark and passes its output with -orchestrator-bench.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/councilhq/council/internal/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "councilbench:", err)
		os.Exit(1)
	}
}

// stopTimeout bounds councild's shutdown at the end.
const stopTimeout = 30 * time.Second

// run parses args, runs the benchmark and writes the report to out and
// progress to progress.
func run(ctx context.Context, args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("councilbench", flag.ContinueOnError)
	fs.SetOutput(progress)
	councild := fs.String("councild", "bin/councild", "councild binary to benchmark")
	logPath := fs.String("log", ".tmp/bench-councild.log", "file that receives councild's log")
	single := fs.Int("single", bench.DefaultSingle, "consultations run one at a time for the baseline")
	levels := fs.String("levels", "10,50,100,1000", "comma-separated concurrency levels")
	samples := fs.Int("samples", bench.DefaultSamples, "consultations each level aims for (at least 2 waves)")
	conns := fs.Int("conns", bench.DefaultConns, "gRPC connections the clients share")
	workers := fs.Int("throughput-workers", bench.DefaultThroughputWorkers, "concurrent clients of the zero-latency run")
	tpDuration := fs.Duration("throughput-duration", 10*time.Second, "length of the zero-latency run (negative skips it)")
	secure := fs.Bool("tls", true, "serve the fake upstream over HTTPS with HTTP/2, as OpenRouter does (false: plain HTTP/1.1)")
	chunkWords := fs.Int("chunk-words", 1, "words in each streamed chunk of the fake upstream's answers (1: a word a chunk, as providers stream tokens)")
	orchBench := fs.String("orchestrator-bench", "", "go test -bench -benchmem output holding BenchmarkConsult")
	var serverEnv envList
	fs.Var(&serverEnv, "server-env", "KEY=VALUE added to councild's environment, after the benchmark's own (repeatable)")
	pin := fs.Bool("pin", true, "with taskset and at least 2 CPUs: run councild on CPU 0 and the benchmark (client and fake upstream) on the others, so that neither distorts the other's figures")
	burst := fs.Bool("burst", false, "instead of the latency benchmark, measure the capacity and bursts of 1, 2 and 5 times it against adaptive admission")
	burstCapacity := fs.Int("burst-capacity", 0, "with -burst: the capacity to use instead of measuring it")
	heavyTail := fs.Bool("heavy-tail", false, "instead of the latency benchmark, measure p50 and p99 with one council model at 300 ms plus up to 3 s of random delay, with hedging and the straggler cut-off each off and on")
	tailConsultations := fs.Int("heavy-tail-consultations", bench.DefaultHeavyTailConsultations, "with -heavy-tail: consultations per setting")
	tailConcurrency := fs.Int("heavy-tail-concurrency", bench.DefaultHeavyTailConcurrency, "with -heavy-tail: consultations at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *heavyTail {
		return runHeavyTail(ctx, heavyTailRun{
			burstRun:      burstRun{councild: *councild, logPath: *logPath, conns: *conns, secure: *secure, serverEnv: serverEnv},
			consultations: *tailConsultations, concurrency: *tailConcurrency,
		}, out, progress)
	}
	if *burst {
		return runBurst(ctx, burstRun{councild: *councild, logPath: *logPath, conns: *conns, secure: *secure,
			serverEnv: serverEnv, capacity: *burstCapacity}, out, progress)
	}
	lv, err := parseLevels(*levels)
	if err != nil {
		return err
	}
	var orch *bench.GoBench
	if *orchBench != "" {
		f, err := os.Open(*orchBench)
		if err != nil {
			return err
		}
		orch, err = bench.ParseGoBench(f, "BenchmarkConsult")
		f.Close()
		if err != nil {
			return err
		}
	}

	profile := bench.DefaultProfile().WithWordsPerChunk(*chunkWords)
	upstream, err := bench.StartUpstream(profile, *secure)
	if err != nil {
		return err
	}
	defer upstream.Close()
	// Neither admission control nor the cap on upstream calls in flight
	// may hold back the highest level: a consultation has at most five
	// calls in flight (four reviews and the chairman). Adaptive admission
	// is off, since it would shed the levels past the machine's capacity
	// (-burst measures it).
	most := max(slices.Max(lv), *workers, *conns)
	env := []string{
		"OPENROUTER_API_KEY=" + upstream.Key(),
		"COUNCIL_ADAPTIVE_ADMISSION=false",
		"COUNCIL_MAX_CONSULTATIONS=" + strconv.Itoa(2*most),
		"COUNCIL_UPSTREAM_MAX_IN_FLIGHT=" + strconv.Itoa(10*most),
		// The goroutines are counted from the admin server's /metrics;
		// its profiles are there for a look at the server under load.
		"COUNCIL_ADMIN_ADDR=127.0.0.1:0",
		"COUNCIL_PPROF=true",
	}
	if pem := upstream.CertPEM(); pem != nil {
		// councild's HTTP client trusts the system roots, which Go reads
		// from SSL_CERT_FILE when it is set.
		certFile := filepath.Join(filepath.Dir(*logPath), "bench-upstream.pem")
		if err := os.WriteFile(certFile, pem, 0o600); err != nil {
			return err
		}
		env = append(env, "SSL_CERT_FILE="+certFile)
	}
	logFile, err := os.Create(*logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	placement := "councild and the benchmark (client and fake upstream) share them"
	command, args := *councild, []string{}
	if *pin {
		if cpus, ok := pinSelf(); ok {
			command, args = "taskset", []string{"-c", "0", *councild}
			placement = "councild pinned to CPU 0, the benchmark (client and fake upstream) to CPU " + cpus
		}
	}
	proc, err := bench.StartProcess(command, append(args,
		"-addr", "127.0.0.1:0",
		"-provider", "openrouter",
		"-openrouter-base-url", upstream.URL(),
		"-models", strings.Join(profile.CouncilIDs(), ","),
		"-chairman", profile.Chairman.ID,
	), append(env, serverEnv...), logFile)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := proc.Stop(sctx); err != nil {
			fmt.Fprintln(progress, "councilbench: stopping councild:", err)
		}
	}()
	fmt.Fprintf(progress, "councild is listening on %s (log: %s)\n", proc.Addr, *logPath)

	res, err := bench.Run(ctx, bench.Config{
		Addr:               proc.Addr,
		Upstream:           upstream,
		Profile:            profile,
		Single:             *single,
		Levels:             lv,
		Samples:            *samples,
		Conns:              *conns,
		ThroughputWorkers:  *workers,
		ThroughputDuration: *tpDuration,
		Probe:              proc,
		Progress:           progress,
	})
	if err != nil {
		return err
	}
	res.Orchestrator = orch
	fmt.Fprintf(out, "Measured on %d CPUs (%s, %s/%s), load average %s; %s, over loopback.\n\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage(), placement)
	if err := bench.WriteReport(out, res); err != nil {
		return err
	}
	if n := res.Errors(); n > 0 {
		return fmt.Errorf("%d consultations failed", n)
	}
	return nil
}

// pinSelf moves every thread of this process to CPUs 1 and up with
// taskset, leaving CPU 0 to councild. It returns the CPU list and true,
// or false when taskset is missing, there is a single CPU, or it failed.
func pinSelf() (string, bool) {
	n := runtime.NumCPU()
	if n < 2 {
		return "", false
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return "", false
	}
	cpus := "1"
	if n > 2 {
		cpus = fmt.Sprintf("1-%d", n-1)
	}
	if err := exec.Command("taskset", "-a", "-p", "-c", cpus, strconv.Itoa(os.Getpid())).Run(); err != nil {
		return "", false
	}
	return cpus, true
}

// parseLevels parses a comma-separated list of positive integers.
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("-levels %q: want positive integers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// loadAverage returns the one-minute load average, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// envList is a repeatable KEY=VALUE flag.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("%q: want KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}
