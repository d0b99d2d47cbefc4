package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// tiers runs the tiers command.
func tiers(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	asJSON, err := jsonFlag("tiers", args, out)
	if err != nil {
		return err
	}
	resp, err := councilv1.NewCouncilClient(conn).ListTiers(ctx, &councilv1.ListTiersRequest{})
	if err != nil {
		return callError(err)
	}
	if asJSON {
		return printJSON(out, resp)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIER\tLATENCY\tCOST/QUERY\tCHAIRMAN\tCOUNCIL")
	for _, t := range resp.GetTiers() {
		name := tierName(t.GetTier())
		if t.GetServerDefault() {
			name += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t$%.3f\t%s\t%s\n", name, t.GetExpectedLatency().AsDuration(), t.GetCostPerQueryUsd(),
			t.GetChairmanModel(), strings.Join(t.GetCouncilModels(), ", "))
	}
	return tw.Flush()
}

// tierName returns the lower-case name of a tier ("speed").
func tierName(t councilv1.Tier) string {
	return strings.ToLower(strings.TrimPrefix(t.String(), "TIER_"))
}

// jsonFlag parses the arguments of a command that takes only --json.
func jsonFlag(name string, args []string, out io.Writer) (bool, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	asJSON := fs.Bool("json", false, "print the response as protobuf JSON")
	if err := fs.Parse(args); err != nil {
		return false, flagError(err)
	}
	if fs.NArg() > 0 {
		return false, badUsage("%s takes no arguments, got %q", name, fs.Args())
	}
	return *asJSON, nil
}

// printJSON prints msg as one line of protobuf JSON.
func printJSON(out io.Writer, msg proto.Message) error {
	b, err := protojson.Marshal(msg)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n", b)
	return err
}
