package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

func ExampleNew() {
	// A stand-in for *orchestrator.Council.
	consulter := server.ConsulterFunc(func(ctx context.Context, req orchestrator.Request, emit func(orchestrator.Event) error) error {
		for i, p := range []any{
			&orchestrator.ConsultStarted{Tier: "balanced", Council: []string{"a", "b"}, Chairman: "c"},
			&orchestrator.FinalAnswer{Model: "c", Content: "Rayleigh scattering."},
			&orchestrator.ConsultCompleted{},
		} {
			if err := emit(orchestrator.Event{Sequence: uint64(i + 1), ConsultationID: "c-1", Payload: p}); err != nil {
				return err
			}
		}
		return nil
	})
	srv, err := server.New(consulter, server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		panic(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, lis) }()
	defer func() { stop(); <-served }()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	if err != nil {
		panic(err)
	}
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			panic(err)
		}
		switch ev := resp.GetEvent().(type) {
		case *councilv1.ConsultResponse_ConsultStarted:
			fmt.Println(resp.GetSequence(), "started with", ev.ConsultStarted.GetCouncilModels())
		case *councilv1.ConsultResponse_FinalAnswer:
			fmt.Println(resp.GetSequence(), "answer:", ev.FinalAnswer.GetContent())
		case *councilv1.ConsultResponse_ConsultCompleted:
			fmt.Println(resp.GetSequence(), "completed")
		}
	}
	// Output:
	// 1 started with [a b]
	// 2 answer: Rayleigh scattering.
	// 3 completed
}
