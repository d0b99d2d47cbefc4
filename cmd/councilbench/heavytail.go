package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/councilhq/council/internal/bench"
)

// heavyTailRun is what -heavy-tail needs from the command line.
type heavyTailRun struct {
	burstRun
	consultations, concurrency int
}

// runHeavyTail measures p50 and p99 with one heavy-tailed council model,
// with hedging to a fast backup off and on and the straggler cut-off off
// and on, each against a fresh councild and a fresh fake upstream (whose
// random delays repeat from one to the next), and writes the table to out.
func runHeavyTail(ctx context.Context, hr heavyTailRun, out, progress io.Writer) error {
	profile := bench.HeavyTailProfile(bench.DefaultHeavyTailJitter)
	heavy, backup := profile.Council[0].ID, profile.Backups[0].ID
	var rows []bench.HeavyTailRow
	for _, setting := range []struct{ hedge, cutoff bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		env := []string{"COUNCIL_STRAGGLER_CUTOFF=" + fmt.Sprint(setting.cutoff)}
		if setting.hedge {
			env = append(env, "COUNCIL_HEDGE="+heavy+"="+backup)
		}
		upstream, err := bench.StartUpstream(profile, hr.secure)
		if err != nil {
			return err
		}
		upstream.SetRecording(false)
		var row bench.HeavyTailRow
		err = withCouncildOf(ctx, hr.burstRun, profile, upstream, env, progress, func(addr string) error {
			var err error
			row, err = bench.RunHeavyTail(ctx, bench.HeavyTailConfig{
				Addr: addr, Profile: profile, Conns: hr.conns,
				Consultations: hr.consultations, Concurrency: hr.concurrency, Progress: progress,
			})
			return err
		})
		row.Hedge, row.Cutoff, row.Hedges = setting.hedge, setting.cutoff, upstream.RequestsFor(backup)
		upstream.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(progress, "heavy tail, %s: p50 %v, p99 %v, %d cut, %d hedged, %d errors\n",
			strings.Join(env, " "), row.Latency.P50, row.Latency.P99, row.Cut, row.Hedges, row.Errors)
		rows = append(rows, row)
	}
	fmt.Fprintf(out, "Measured on %d CPUs (%s, %s/%s), load average %s; councild and the benchmark share them, over loopback; %d consultations per setting, %d at once.\n\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage(), hr.consultations, hr.concurrency)
	return bench.WriteHeavyTailReport(out, profile, rows)
}
