// Command councilctl is a command-line client of the council.v1.Council
// gRPC API.
//
//	councilctl [--addr host:port] consult "question" [--tier speed|balanced|cost]
//	           [--models a,b,c] [--chairman m] [--request-id id] [--json] [--timeout 5m]
//	councilctl [--addr host:port] tiers [--json]
//	councilctl [--addr host:port] health [--wait 10s]
//	councilctl [--addr host:port] stats [--json]
//
// consult prints a line per event as the consultation progresses, with the
// chairman's text streamed inline, then the final answer; --json prints each
// event as one line of protobuf JSON instead. health exits 0 once the server
// reports SERVING. stats prints the server's latency percentiles in total,
// per stage and per model. Every command exits non-zero with the status
// message when the call fails.
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

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// defaultAddr is the server address unless --addr or COUNCIL_ADDR says otherwise.
const defaultAddr = "127.0.0.1:50051"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "councilctl:", err)
		os.Exit(1)
	}
}

// run parses the global flags and runs the command, printing to out.
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("councilctl", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := defaultAddr
	if v := strings.TrimSpace(getenv("COUNCIL_ADDR")); v != "" {
		addr = v
	}
	fs.StringVar(&addr, "addr", addr, "server address (COUNCIL_ADDR)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: councilctl [--addr host:port] <command> [arguments]

Commands:
  consult "question" [--tier t] [--models a,b] [--chairman m] [--request-id id] [--json] [--timeout d]
  tiers [--json]
  health [--wait d]
  stats [--json]

Global flags:`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no command given")
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()

	cmd, rest := fs.Arg(0), fs.Args()[1:]
	switch cmd {
	case "consult":
		return consult(ctx, conn, rest, out)
	case "tiers":
		return tiers(ctx, conn, rest, out)
	case "health":
		return health(ctx, conn, rest, out)
	case "stats":
		return stats(ctx, conn, rest, out)
	}
	fs.Usage()
	return fmt.Errorf("unknown command %q", cmd)
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, which it returns.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
