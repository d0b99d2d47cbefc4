package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// consult runs the consult command.
func consult(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("consult", flag.ContinueOnError)
	fs.SetOutput(out)
	tier := fs.String("tier", "", "speed, balanced or cost (default: the server's)")
	models := fs.String("models", "", "comma-separated council models (default: the tier's)")
	chairman := fs.String("chairman", "", "chairman model (default: the tier's)")
	requestID := fs.String("request-id", "", "correlation id echoed by the server")
	asJSON := fs.Bool("json", false, "print every event as one line of protobuf JSON")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New(`consult takes one question (quote it): councilctl consult "Why is the sky blue?"`)
	}
	req := &councilv1.ConsultRequest{
		Query:         pos[0],
		CouncilModels: splitList(*models),
		ChairmanModel: strings.TrimSpace(*chairman),
		RequestId:     *requestID,
	}
	if req.Tier, err = parseTier(*tier); err != nil {
		return err
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	stream, err := councilv1.NewCouncilClient(conn).Consult(ctx, req)
	if err != nil {
		return callError(err)
	}
	var p eventPrinter = &textPrinter{w: out}
	if *asJSON {
		p = &jsonPrinter{w: out}
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return p.end()
		}
		if err != nil {
			_ = p.end()
			return callError(err)
		}
		if err := p.print(msg); err != nil {
			return err
		}
	}
}

// parseTier maps a tier name to the API enum; empty means unspecified.
func parseTier(name string) (councilv1.Tier, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return councilv1.Tier_TIER_UNSPECIFIED, nil
	}
	v, ok := councilv1.Tier_value["TIER_"+strings.ToUpper(name)]
	if !ok || v == int32(councilv1.Tier_TIER_UNSPECIFIED) {
		return 0, fmt.Errorf("unknown tier %q: want speed, balanced or cost", name)
	}
	return councilv1.Tier(v), nil
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
