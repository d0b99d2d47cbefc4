package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"google.golang.org/grpc"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

// stats runs the stats command: the server's latency percentiles.
func stats(ctx context.Context, conn *grpc.ClientConn, args []string, out io.Writer) error {
	asJSON, err := jsonFlag("stats", args, out)
	if err != nil {
		return err
	}
	resp, err := councilv1.NewCouncilClient(conn).GetStats(ctx, &councilv1.GetStatsRequest{})
	if err != nil {
		return callError(err)
	}
	if asJSON {
		return printJSON(out, resp)
	}
	fmt.Fprintf(out, "%d consultations (%d failed); percentiles over the last %d samples of each series\n\n",
		resp.GetConsultations(), resp.GetFailedConsultations(), resp.GetWindow())
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERIES\tN\tP50\tP90\tP95\tP99\tMAX\tNOTE")
	row := func(name string, d *councilv1.LatencyDistribution, note string) {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", name, d.GetCount(),
			dur(d.GetP50()), dur(d.GetP90()), dur(d.GetP95()), dur(d.GetP99()), dur(d.GetMax()), note)
	}
	row("total", resp.GetTotal(), "")
	for _, s := range resp.GetStages() {
		note := ""
		if th := s.GetThreshold(); th != nil {
			note = fmt.Sprintf("threshold %s, exceeded %d×", dur(th), s.GetExceeded())
		}
		row(stageName(s.GetStage()), s.GetLatency(), note)
	}
	for _, m := range resp.GetModels() {
		var notes []string
		if b := m.GetBudget(); b != nil {
			notes = append(notes, fmt.Sprintf("%s budget %s", tierName(m.GetTier()), dur(b)))
		}
		if m.GetOverBudget() {
			notes = append(notes, "OVER BUDGET")
		}
		if m.GetFailures() > 0 {
			notes = append(notes, fmt.Sprintf("%d failed", m.GetFailures()))
		}
		row("  "+stageName(m.GetStage())+" "+m.GetModel(), m.GetLatency(), strings.Join(notes, ", "))
	}
	return tw.Flush()
}
