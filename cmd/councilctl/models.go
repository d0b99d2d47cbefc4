package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"google.golang.org/grpc"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// models runs the models command: the provider's models with their
// context length and prices per million tokens.
func models(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	asJSON, err := jsonFlag("models", args, out)
	if err != nil {
		return err
	}
	resp, err := councilv1.NewCouncilClient(conn).ListModels(ctx, &councilv1.ListModelsRequest{})
	if err != nil {
		return callError(err)
	}
	if asJSON {
		return printJSON(out, resp)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MODEL\tCONTEXT\tPROMPT $/M\tCOMPLETION $/M\t")
	for _, m := range resp.GetModels() {
		fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t\n", m.GetId(), m.GetContextLength(),
			m.GetPromptPriceUsd()*1e6, m.GetCompletionPriceUsd()*1e6)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "prices as of %s\n", resp.GetFetchTime().AsTime().Format("2006-01-02 15:04:05 MST"))
	return err
}
