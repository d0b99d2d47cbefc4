package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// healthPoll is the pause between health checks while waiting.
const healthPoll = 100 * time.Millisecond

// health runs the health command: it succeeds once the Council service
// reports SERVING, waiting up to --wait for the server to come up.
func health(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(out)
	wait := fs.Duration("wait", 0, "wait this long for the server to be up and SERVING")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return badUsage("health takes no arguments, got %q", fs.Args())
	}
	if *wait <= 0 {
		resp, err := check(ctx, conn, false)
		if err != nil {
			return callError(err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			return notServing(resp.GetStatus().String())
		}
		_, err = fmt.Fprintln(out, resp.GetStatus())
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	for {
		resp, err := check(ctx, conn, true)
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			_, err = fmt.Fprintln(out, resp.GetStatus())
			return err
		}
		t := time.NewTimer(healthPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			if err != nil {
				return notServing(fmt.Sprintf("not up after %s: %v", *wait, callError(err)))
			}
			return notServing(fmt.Sprintf("not serving after %s: %s", *wait, resp.GetStatus()))
		case <-t.C:
		}
	}
}

// notServing is the error of a server that answers but does not serve; it
// exits as UNAVAILABLE does.
func notServing(msg string) error {
	return &statusError{st: status.New(codes.Unavailable, msg), msg: msg}
}

// check asks for the Council service's health; waitForReady makes the call
// wait for a connection rather than fail while the server is down.
func check(ctx context.Context, conn *grpc.ClientConn, waitForReady bool) (*healthpb.HealthCheckResponse, error) {
	return healthpb.NewHealthClient(conn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: councilv1.Council_ServiceDesc.ServiceName},
		grpc.WaitForReady(waitForReady))
}
