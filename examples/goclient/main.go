// Command goclient is the smallest complete Go client of council.v1.Council:
// it dials councild, asks one question with Consult, prints the events as
// they stream, and tells the outcome apart by the gRPC status and its
// ErrorInfo reason. The README quotes it.
//
//	go run ./examples/goclient -addr 127.0.0.1:50051 "Why is the sky blue?"
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "councild's address")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: goclient [-addr host:port] QUESTION")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := consult(ctx, *addr, flag.Arg(0), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goclient:", err)
		os.Exit(1)
	}
}

// consult asks councild at addr one question and writes the deliberation
// to out. It returns nil once the council answered.
func consult(ctx context.Context, addr, question string, out io.Writer) error {
	// Dial: plaintext on loopback; use credentials.NewTLS for TLS.
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := councilv1.NewCouncilClient(conn)

	stream, err := client.Consult(ctx, &councilv1.ConsultRequest{Query: question, Tier: councilv1.Tier_TIER_SPEED})
	if err != nil {
		return err
	}
	// Read the events until the stream ends: io.EOF means the council
	// answered (the last event was consult_completed); any other error is
	// the call's status.
	for {
		ev, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return describe(err)
		}
		switch e := ev.GetEvent().(type) {
		case *councilv1.ConsultResponse_ModelAnswered:
			fmt.Fprintf(out, "%s answered in %v\n", e.ModelAnswered.GetModel(), e.ModelAnswered.GetLatency().AsDuration())
		case *councilv1.ConsultResponse_ModelFailed:
			fmt.Fprintf(out, "%s failed: %s\n", e.ModelFailed.GetModel(), e.ModelFailed.GetReason())
		case *councilv1.ConsultResponse_SynthesisDelta:
			fmt.Fprint(out, e.SynthesisDelta.GetText()) // the final answer, as it is written
		case *councilv1.ConsultResponse_FinalAnswer:
			fmt.Fprintf(out, "\n(by %s)\n", e.FinalAnswer.GetModel())
		case *councilv1.ConsultResponse_ConsultCompleted:
			fmt.Fprintf(out, "completed in %v, degraded: %v\n", e.ConsultCompleted.GetDuration().AsDuration(), e.ConsultCompleted.GetDegraded())
		}
	}
}

// describe turns a failed call's status into an error saying what to do:
// the code, the ErrorInfo reason and the fields a BadRequest names.
func describe(err error) error {
	st := status.Convert(err)
	reason := ""
	var fields []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			reason = d.GetReason() // QUORUM_NOT_MET, INVALID_REQUEST, TOO_MANY_CONSULTATIONS, …
		case *errdetails.BadRequest:
			for _, v := range d.GetFieldViolations() {
				fields = append(fields, v.GetField()+": "+v.GetDescription())
			}
		}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return fmt.Errorf("bad request (%s): %v", reason, fields)
	case codes.ResourceExhausted, codes.Unavailable:
		return fmt.Errorf("%s (%s), retry later: %s", st.Code(), reason, st.Message())
	default:
		return fmt.Errorf("%s (%s): %s", st.Code(), reason, st.Message())
	}
}
