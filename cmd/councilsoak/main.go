// Command councilsoak holds many concurrent consultations against councild,
// run as its own process so that its memory and goroutines are its own,
// while a fake OpenRouter in this process injects faults into a share of
// the model calls, and reports what happened. Everything is on loopback.
//
//	councilsoak [-councild bin/councild] [-concurrency 1000] [-duration 60s] [-fault-rate 0.05]
//
// It starts the fake OpenRouter of package openroutertest and councild
// pointed at it (with the soak's call timeouts, adaptive admission off and
// its metrics on a free port; -server-env adds to its environment), then
// runs -concurrency workers, each consulting again as soon as its
// consultation ends, for -duration. Each upstream request fails with
// probability -fault-rate, with a fault drawn evenly from 429, 500, 502,
// hang, connection reset, malformed JSON, empty content, mid-stream error
// and a slow trickle. Every consultation's query carries its number, so
// the fake upstream books each request's draw against its consultation,
// stage and model.
//
// Every stream is checked as it arrives with package consultcheck. The
// report gives the consultations completed, degraded and failed by status;
// how many were expected to fail from the faults they drew (more council
// models than the quorum spares, or every chairman tried, lost every
// attempt to a fault) and how many failed without that explanation; the
// ModelFailed events by stage, reason and model; councild's cooldowns,
// retryable failures not retried and attempts held back, from its metrics;
// the errors that should not happen (broken sequences, failures shown as
// answers, upstream text reaching a client or councild's log, undocumented
// statuses); and councild's goroutines and resident memory at the start,
// at the end of the duration and at the end. councilsoak exits 1 when an
// error that should not happen occurred, councild leaked goroutines or did
// not shut down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	councild    string
	serverEnv   []string
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
	fs.StringVar(&c.councild, "councild", "bin/councild", "councild binary to soak")
	fs.Func("server-env", "KEY=VALUE added to councild's environment (repeatable)", func(s string) error {
		if k, _, ok := strings.Cut(s, "="); !ok || k == "" {
			return fmt.Errorf("want KEY=VALUE, got %q", s)
		}
		c.serverEnv = append(c.serverEnv, s)
		return nil
	})
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
