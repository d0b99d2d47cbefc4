// Command councilctl is a command-line client of the council.v1.Council
// gRPC API.
//
//	councilctl [--addr host:port] consult "question"|- [--tier speed|balanced|cost]
//	           [--models a,b,c] [--chairman m] [--request-id id] [--max-cost usd] [--history file.json]
//	           [--json | --answer-only] [--no-resume] [--timeout 5m]
//	councilctl [--addr host:port] watch ID [--after N] [--json | --answer-only] [--no-resume] [--timeout 5m]
//	councilctl [--addr host:port] tiers [--json]
//	councilctl [--addr host:port] models [--json]
//	councilctl [--addr host:port] health [--wait 10s]
//	councilctl [--addr host:port] stats [--json]
//	councilctl trace ID [--jaeger url] [--service councild] [--lookback 24h] [--width n] [--json]
//	councilctl [--addr host:port] spend [--json]
//
// consult prints a line per event as the consultation progresses, with the
// chairman's text streamed inline, then the final answer; --json prints each
// event as one line of protobuf JSON instead, and --answer-only prints the
// progress on stderr and only the final answer on stdout. A question of -
// is read from stdin; --history names a JSON file of earlier turns. The
// consultation's id is printed with its first event; when the stream breaks,
// consult resumes it with Watch after the last event printed, with backoff
// (--no-resume turns that off), and sends a random --request-id unless
// given one, so that the server keeps the consultation running meanwhile.
// watch prints a consultation's events after --after, live to its end, and
// resumes the same way. Colour
// is used only on a terminal, and never when NO_COLOR is set. health exits
// 0 once the server reports SERVING. models lists the provider's models
// with their context length and prices per million tokens. stats prints the server's latency
// percentiles in total, per stage and per model. trace fetches the trace of
// a consultation (by trace id or consultation id) from Jaeger's query API
// (--jaeger, or COUNCIL_JAEGER_URL, default http://127.0.0.1:16686) and
// draws it as a waterfall. spend prints what the caller spent in its
// budget's current period, what remains of the budget and when it resets.
// A failed call exits with
// a code for its status (see exit.go): 2 for a usage error, 3 invalid
// argument, 4 deadline exceeded, 5 unavailable, 6 resource exhausted,
// 7 unauthenticated, 8 cancelled, 9 any other status, 1 anything else.
//
// Global flags say how to reach the server: --token (or COUNCIL_TOKEN, or
// the first line of --token-file) sends a bearer token with every call;
// --tls connects with TLS, --tls-ca names the CA bundle to trust and
// --tls-cert and --tls-key present a client certificate for mutual TLS.
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

	"github.com/councilhq/council/buildinfo"
)

// defaultAddr is the server address unless --addr or COUNCIL_ADDR says otherwise.
const defaultAddr = "127.0.0.1:50051"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, stdio{
		in: os.Stdin, out: os.Stdout, errOut: os.Stderr,
		outTTY: isTerminal(os.Stdout), errTTY: isTerminal(os.Stderr),
	})
	stop()
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "councilctl:", err)
	}
	os.Exit(exitCode(err))
}

// stdio is where councilctl reads and writes.
type stdio struct {
	in          io.Reader
	out, errOut io.Writer
	// outTTY and errTTY say whether out and errOut are terminals, on
	// which councilctl may use colour.
	outTTY, errTTY bool
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// run parses the global flags and runs the command, printing to std.out
// (and, for consult --answer-only, progress to std.errOut).
func run(ctx context.Context, args []string, getenv func(string) string, std stdio) error {
	out := std.out
	fs := flag.NewFlagSet("councilctl", flag.ContinueOnError)
	fs.SetOutput(out)
	var d dialFlags
	d.register(fs, getenv)
	version := fs.Bool("version", false, "print the version, VCS revision and build time, and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: councilctl [--addr host:port] [--token t] [--tls] <command> [arguments]

Commands:
  consult "question"|- [--tier t] [--models a,b] [--chairman m] [--request-id id] [--max-cost usd] [--history file]
          [--json | --answer-only] [--no-resume] [--timeout d]
  watch ID [--after N] [--json | --answer-only] [--no-resume] [--timeout d]
  tiers [--json]
  models [--json]
  health [--wait d]
  stats [--json]
  trace ID [--jaeger url] [--service name] [--lookback d] [--width n] [--json]
  spend [--json]

Global flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if *version {
		_, err := fmt.Fprintln(out, "councilctl", buildinfo.Read())
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return badUsage("no command given")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	if cmd == "trace" {
		// Jaeger's query API, not councild.
		return traceCmd(ctx, rest, std, getenv)
	}
	conn, err := d.dial()
	if err != nil {
		return err
	}
	defer conn.Close()

	switch cmd {
	case "consult":
		return consult(ctx, conn, rest, std, getenv)
	case "watch":
		return watchCmd(ctx, conn, rest, std, getenv)
	case "tiers":
		return tiers(ctx, conn, rest, out)
	case "models":
		return models(ctx, conn, rest, out)
	case "health":
		return health(ctx, conn, rest, out)
	case "stats":
		return stats(ctx, conn, rest, out)
	case "spend":
		return spend(ctx, conn, rest, out)
	}
	fs.Usage()
	return badUsage("unknown command %q", cmd)
}

// flagError marks an error of flag parsing as a usage error; -h is not an
// error.
func flagError(err error) error {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageError{err}
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, flagError(err)
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
