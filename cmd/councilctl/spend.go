package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// spend runs the spend command: what the caller spent in its budget's
// current period, what remains and when it resets.
func spend(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	asJSON, err := jsonFlag("spend", args, out)
	if err != nil {
		return err
	}
	resp, err := councilv1.NewCouncilClient(conn).GetSpend(ctx, &councilv1.GetSpendRequest{})
	if err != nil {
		return callError(err)
	}
	if asJSON {
		return printJSON(out, resp)
	}
	if resp.GetBudget() == "" {
		_, err := fmt.Fprintf(out, "caller     %s\nno budget applies\n", resp.GetCaller())
		return err
	}
	period := strings.ToLower(strings.TrimPrefix(resp.GetPeriod().String(), "BUDGET_PERIOD_"))
	_, err = fmt.Fprintf(out, "caller     %s\nbudget     %s: $%.6f per %s\nspent      $%.6f\nremaining  $%.6f\nresets     %s\n",
		resp.GetCaller(), resp.GetBudget(), resp.GetLimitUsd(), period, resp.GetSpentUsd(), resp.GetRemainingUsd(),
		resp.GetResetTime().AsTime().UTC().Format("2006-01-02 15:04:05 MST"))
	return err
}
