package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// Backoff of resuming a broken stream.
const (
	resumeBaseDelay = 250 * time.Millisecond
	resumeMaxDelay  = 5 * time.Second
	// resumeAttempts is how many times in a row a stream is resumed
	// without an event coming through before councilctl gives up.
	resumeAttempts = 8
)

// errorDomain is the domain of the server's ErrorInfo details.
const errorDomain = "council.v1"

// eventStream is a Consult or Watch stream.
type eventStream = grpc.ServerStreamingClient[councilv1.ConsultResponse]

// follower prints a consultation's events from a stream and, when the
// stream breaks, resumes it with Watch after the last event printed.
type follower struct {
	client councilv1.CouncilClient
	p      eventPrinter
	// notes is where resumptions are reported.
	notes io.Writer
	// resume turns resuming on.
	resume bool
	// retry reopens the first stream when it breaks before its first
	// event, when that is safe (a Consult with a request id); may be nil.
	retry func(context.Context) (eventStream, error)
	// onStart is called with the consultation id at the first event.
	onStart func(id string)

	id   string
	last uint64
	// sleep waits between attempts; a test may shorten it.
	sleep func(context.Context, time.Duration) error
}

// run reads stream to its end, resuming it as needed, and returns the
// final status as an error (nil for OK).
func (f *follower) run(ctx context.Context, stream eventStream) error {
	failures := 0
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return f.p.end()
		}
		if err != nil {
			if !f.resume || !resumable(err) || failures >= resumeAttempts || ctx.Err() != nil {
				_ = f.p.fail()
				return callError(err)
			}
			failures++
			if stream, err = f.reopen(ctx, err, failures); err != nil {
				_ = f.p.fail()
				return callError(err)
			}
			continue
		}
		failures = 0
		if f.id == "" {
			f.id = msg.GetConsultationId()
			if f.onStart != nil {
				f.onStart(f.id)
			}
		}
		f.last = msg.GetSequence()
		if err := f.p.print(msg); err != nil {
			return err
		}
	}
}

// reopen waits out the backoff of the attempt-th retry and opens a Watch
// after the last event, or the first stream again when no event came.
func (f *follower) reopen(ctx context.Context, cause error, attempt int) (eventStream, error) {
	d := min(resumeMaxDelay, resumeBaseDelay<<(attempt-1))
	d = d/2 + rand.N(d/2+1) // jitter: half to all of it
	if f.id == "" && f.retry == nil {
		return nil, cause
	}
	what := fmt.Sprintf("watching %s after event %d", f.id, f.last)
	if f.id == "" {
		what = "consulting again with the same request id"
	}
	fmt.Fprintf(f.notes, "councilctl: stream broke (%s); %s in %v\n", status.Code(cause), what, d.Round(time.Millisecond))
	sleep := f.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	if err := sleep(ctx, d); err != nil {
		return nil, cause
	}
	if f.id == "" {
		return f.retry(ctx)
	}
	return f.client.Watch(ctx, &councilv1.WatchRequest{ConsultationId: f.id, AfterSequence: f.last})
}

// resumable reports whether a stream that ended with err may be resumed:
// the connection broke (a status the server did not make, so without its
// ErrorInfo), the server's event log was briefly unreadable, or the server
// ended a Watch because it is shutting down.
func resumable(err error) bool {
	st := status.Convert(err)
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetDomain() == errorDomain {
			return info.GetReason() == "EVENT_LOG_UNAVAILABLE" || info.GetReason() == "REPLICA_DRAINING"
		}
	}
	switch st.Code() {
	case codes.Unavailable, codes.Internal, codes.Unknown:
		return true
	}
	return false
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newRequestID returns a random request id, which makes a consultation
// resumable: the server keeps it running while the client reconnects.
func newRequestID() string {
	b := make([]byte, 12)
	_, _ = crand.Read(b)
	return "councilctl-" + hex.EncodeToString(b)
}

// watchCmd runs the watch command.
func watchCmd(ctx context.Context, conn *grpc.ClientConn, args []string, std stdio, getenv func(string) string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(std.out)
	after := fs.Uint64("after", 0, "replay the events after this sequence number (0: all)")
	asJSON := fs.Bool("json", false, "print every event as one line of protobuf JSON")
	answerOnly := fs.Bool("answer-only", false, "print only the final answer on stdout; progress goes to stderr")
	noResume := fs.Bool("no-resume", false, "do not resume the stream when it breaks")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage("watch takes one consultation id: councilctl watch 1dad0cf6… [--after N]")
	}
	if *asJSON && *answerOnly {
		return badUsage("--json and --answer-only exclude each other")
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	client := councilv1.NewCouncilClient(conn)
	stream, err := client.Watch(ctx, &councilv1.WatchRequest{ConsultationId: pos[0], AfterSequence: *after})
	if err != nil {
		return callError(err)
	}
	f := &follower{client: client, p: newPrinter(*asJSON, *answerOnly, std, getenv), notes: std.errOut,
		resume: !*noResume, id: pos[0], last: *after}
	return f.run(ctx, stream)
}
