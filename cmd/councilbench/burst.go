package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/councilhq/council/internal/bench"
)

// burstRun is what -burst needs from the command line.
type burstRun struct {
	councild  string
	logPath   string
	conns     int
	secure    bool
	serverEnv []string
	// capacity skips the probe when positive.
	capacity int
}

// runBurst measures the machine's capacity against a councild with
// adaptive admission off, then bursts of 1, 2 and 5 times it against a
// councild with adaptive admission on, and writes the burst table to out.
func runBurst(ctx context.Context, br burstRun, out, progress io.Writer) error {
	profile := bench.DefaultProfile()
	upstream, err := bench.StartUpstream(profile, br.secure)
	if err != nil {
		return err
	}
	defer upstream.Close()
	upstream.SetRecording(false)
	cfg := bench.BurstConfig{Profile: profile, Conns: br.conns, Capacity: br.capacity, Progress: progress}
	res := &bench.BurstResult{}

	if br.capacity <= 0 {
		most := slices.Max(bench.DefaultProbeLevels)
		err := withCouncild(ctx, br, upstream, []string{
			"COUNCIL_ADAPTIVE_ADMISSION=false",
			"COUNCIL_MAX_CONSULTATIONS=" + strconv.Itoa(2*most),
		}, progress, func(addr string) error {
			cfg.Addr = addr
			return bench.ProbeCapacity(ctx, cfg, res)
		})
		if err != nil {
			return err
		}
		cfg.Single, cfg.Capacity = res.Single, res.Capacity
	}
	// The static cap stays out of the way of the largest burst, so that
	// only the adaptive limit sheds.
	largest := int(slices.Max(bench.DefaultBurstFactors)) * cfg.Capacity
	err = withCouncild(ctx, br, upstream, []string{
		"COUNCIL_ADAPTIVE_ADMISSION=true",
		"COUNCIL_MAX_CONSULTATIONS=" + strconv.Itoa(2*largest),
	}, progress, func(addr string) error {
		cfg.Addr = addr
		if cfg.Single == 0 {
			var err error
			if cfg.Single, err = bench.MeasureSingle(ctx, cfg); err != nil {
				return err
			}
		}
		return bench.RunBursts(ctx, cfg, res)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Measured on %d CPUs (%s, %s/%s), load average %s; councild and the benchmark (client and fake upstream) share them, over loopback.\n\n",
		runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH, loadAverage())
	return bench.WriteBurstReport(out, res)
}

// withCouncild starts councild against upstream with env added to the
// benchmark's own, runs f with its address and stops it.
func withCouncild(ctx context.Context, br burstRun, upstream *bench.Upstream, env []string, progress io.Writer, f func(addr string) error) (err error) {
	return withCouncildOf(ctx, br, bench.DefaultProfile(), upstream, env, progress, f)
}

// withCouncildOf is withCouncild with the council and chairman of profile.
func withCouncildOf(ctx context.Context, br burstRun, profile bench.Profile, upstream *bench.Upstream, env []string, progress io.Writer, f func(addr string) error) (err error) {
	most := 10 * slices.Max(bench.DefaultProbeLevels)
	fmt.Fprintf(progress, "starting councild with %s\n", strings.Join(env, " "))
	env = append([]string{
		"OPENROUTER_API_KEY=" + upstream.Key(),
		"COUNCIL_UPSTREAM_MAX_IN_FLIGHT=" + strconv.Itoa(most),
	}, env...)
	if pem := upstream.CertPEM(); pem != nil {
		certFile := filepath.Join(filepath.Dir(br.logPath), "bench-upstream.pem")
		if err := os.WriteFile(certFile, pem, 0o600); err != nil {
			return err
		}
		env = append(env, "SSL_CERT_FILE="+certFile)
	}
	logFile, err := os.OpenFile(br.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	proc, err := bench.StartProcess(br.councild, []string{
		"-addr", "127.0.0.1:0",
		"-provider", "openrouter",
		"-openrouter-base-url", upstream.URL(),
		"-models", strings.Join(profile.CouncilIDs(), ","),
		"-chairman", profile.Chairman.ID,
	}, append(env, br.serverEnv...), logFile)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if stopErr := proc.Stop(sctx); stopErr != nil {
			fmt.Fprintln(progress, "councilbench: stopping councild:", stopErr)
		}
	}()
	fmt.Fprintf(progress, "councild is listening on %s (log: %s)\n", proc.Addr, br.logPath)
	return f(proc.Addr)
}
