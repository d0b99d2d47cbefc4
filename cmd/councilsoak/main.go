// Command councilsoak holds many concurrent consultations against the whole
// council service, in-process and on loopback only, while the fake
// OpenRouter injects faults into a share of the model calls, and reports
// what happened.
//
//	councilsoak [-concurrency 1000] [-duration 60s] [-fault-rate 0.05]
//
// It starts the fake OpenRouter of package openroutertest, the OpenRouter
// client, the orchestrator and the gRPC server on 127.0.0.1, then runs
// -concurrency workers, each consulting again as soon as its consultation
// ends, for -duration. Each upstream request fails with probability
// -fault-rate, with a fault drawn evenly from 429, 500, 502, hang,
// connection reset, malformed JSON, empty content, mid-stream error and a
// slow trickle. Every stream is checked as it arrives. The report gives the
// consultations completed, degraded and failed by status, the errors that
// should not happen (broken sequences, failures shown as answers, upstream
// text reaching a client, undocumented statuses), and the goroutines and
// resident memory of the process at the start and the end. councilsoak
// exits 1 when an error that should not happen occurred or goroutines
// leaked.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "councilsoak:", err)
		os.Exit(1)
	}
}

// config is what a soak run is told by its flags.
type config struct {
	concurrency int
	duration    time.Duration
	faultRate   float64
	ttft        time.Duration
	latency     time.Duration
	callTimeout time.Duration
	conns       int
	seed        uint64
}

// Bounds of the flags: the soak stays a bounded load on one machine.
const (
	maxConcurrency = 10000
	maxDuration    = time.Hour
)

// parseFlags reads the configuration from args.
func parseFlags(args []string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("councilsoak", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&c.concurrency, "concurrency", 1000, "consultations held in flight at once")
	fs.DurationVar(&c.duration, "duration", 60*time.Second, "how long to keep starting consultations")
	fs.Float64Var(&c.faultRate, "fault-rate", 0.05, "share of upstream requests that fail, 0 to 1")
	fs.DurationVar(&c.ttft, "ttft", 300*time.Millisecond, "fake upstream's time to the first token of a healthy answer")
	fs.DurationVar(&c.latency, "latency", 1500*time.Millisecond, "fake upstream's time to the last token of a healthy answer")
	fs.DurationVar(&c.callTimeout, "call-timeout", 10*time.Second, "time limit of every model call (hangs and trickles run into it)")
	fs.IntVar(&c.conns, "conns", 16, "gRPC connections the workers share")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of the fault draws")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	switch {
	case fs.NArg() > 0:
		return config{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	case c.concurrency < 1 || c.concurrency > maxConcurrency:
		return config{}, fmt.Errorf("-concurrency %d: want 1 to %d", c.concurrency, maxConcurrency)
	case c.duration <= 0 || c.duration > maxDuration:
		return config{}, fmt.Errorf("-duration %v: want more than 0 and at most %v", c.duration, maxDuration)
	case c.faultRate < 0 || c.faultRate > 1:
		return config{}, fmt.Errorf("-fault-rate %v: want 0 to 1", c.faultRate)
	case c.ttft < 0 || c.latency < c.ttft || c.callTimeout <= 0:
		return config{}, errors.New("want 0 <= -ttft <= -latency and a positive -call-timeout")
	case c.conns < 1 || c.conns > c.concurrency:
		return config{}, fmt.Errorf("-conns %d: want 1 to -concurrency", c.conns)
	}
	return c, nil
}

// run parses the flags, soaks and prints the report to out. It fails when
// an error that should not happen occurred or goroutines leaked.
func run(ctx context.Context, args []string, out io.Writer) error {
	cfg, err := parseFlags(args, out)
	if err != nil {
		return err
	}
	rep, err := soak(ctx, cfg)
	if err != nil {
		return err
	}
	rep.print(out)
	return rep.verdict()
}
