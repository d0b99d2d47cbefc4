// Command councilbench-replicas measures how councild replicas spend one
// provider key's budget: 1 and 3 councild processes against one fake
// upstream that admits a number of requests per window for the whole key
// (limitertest.Upstream, OpenRouter's dialect), each run without Redis
// and with one redis-server the replicas share their budgets through. It
// prints, per run, the requests the upstream saw, the share answered 429,
// the rate it admitted against the rate it allows, consultations per
// second and the consultations' p50 and p99.
//
// Usage:
//
//	councilbench-replicas -councild bin/councild [-consultations 60] [-limit 20] [-window 1s] [-redis-server redis-server]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/internal/limitertest"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		slog.Error("councilbench-replicas", "error", err)
		os.Exit(1)
	}
}

// settings are the command's flags.
type settings struct {
	councild, redisServer string
	consultations, limit  int
	window                time.Duration
}

// models is the council: three models, one of them chairman, so a
// consultation makes seven calls.
var models = []string{"vendor/model-a", "vendor/model-b", "vendor/model-c"}

func run(args []string, out io.Writer) error {
	var s settings
	fs := flag.NewFlagSet("councilbench-replicas", flag.ContinueOnError)
	fs.StringVar(&s.councild, "councild", "bin/councild", "councild binary")
	fs.StringVar(&s.redisServer, "redis-server", "redis-server", "redis-server binary")
	fs.IntVar(&s.consultations, "consultations", 60, "consultations per run, all started at once, spread round robin over the replicas")
	fs.IntVar(&s.limit, "limit", 20, "requests the upstream admits per window for the whole key")
	fs.DurationVar(&s.window, "window", time.Second, "length of the upstream's fixed windows")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if s.consultations < 1 || s.limit < 1 || s.window <= 0 {
		return errors.New("consultations, limit and window must be positive")
	}
	fmt.Fprintf(out, "%d consultations of %d calls each; the upstream admits %d requests per %v for the key\n\n", s.consultations, 2*len(models)+1, s.limit, s.window)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "replicas\tbudgets\tcompleted\trequests\t429s\t429 %\trate /s\tallowed /s\trate %\tconsultations/s\tp50\tp99\t")
	for _, n := range []int{1, 3} {
		for _, shared := range []bool{false, true} {
			r, err := measure(s, n, shared)
			if err != nil {
				return fmt.Errorf("%d replicas (redis %v): %w", n, shared, err)
			}
			budgets := "own"
			if shared {
				budgets = "redis"
			}
			allowed := float64(s.limit) / s.window.Seconds()
			fmt.Fprintf(tw, "%d\t%s\t%d/%d\t%d\t%d\t%.1f\t%.1f\t%.0f\t%.0f\t%.2f\t%v\t%v\t\n",
				n, budgets, r.completed, s.consultations, r.requests, r.rejected, 100*float64(r.rejected)/float64(max(r.requests, 1)),
				r.rate, allowed, 100*r.rate/allowed, float64(r.completed)/r.wall.Seconds(),
				r.p(0.5).Round(10*time.Millisecond), r.p(0.99).Round(10*time.Millisecond))
		}
	}
	return tw.Flush()
}

// result is what one run measured.
type result struct {
	completed, requests, rejected int
	rate                          float64
	wall                          time.Duration
	latencies                     []time.Duration
}

// p returns the q quantile of the consultations' latencies.
func (r result) p(q float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	l := slices.Clone(r.latencies)
	slices.Sort(l)
	return l[min(int(q*float64(len(l))), len(l)-1)]
}

// measure runs the consultations over n replicas, sharing their budgets
// through a fresh redis-server when shared.
func measure(s settings, n int, shared bool) (result, error) {
	var res result
	up := limitertest.NewUpstream(limitertest.UpstreamConfig{Dialect: limitertest.OpenRouter, Limit: s.limit, Window: s.window, Now: time.Now, Models: models})
	defer up.Close()
	env := []string{
		"COUNCIL_PROVIDER=openrouter",
		"OPENROUTER_BASE_URL=" + up.URL,
		"OPENROUTER_API_KEY=sk-or-bench",
		"COUNCIL_ADDR=127.0.0.1:0",
		"COUNCIL_MODELS=" + strings.Join(models, ","),
		"CHAIRMAN_MODEL=" + models[0],
		"COUNCIL_COLLECT_TIMEOUT=5m",
		"COUNCIL_REVIEW_TIMEOUT=5m",
		"COUNCIL_SYNTHESIZE_TIMEOUT=5m",
		"COUNCIL_MAX_CONSULT_DURATION=10m",
		"COUNCIL_ADAPTIVE_ADMISSION=false",
		"COUNCIL_UPSTREAM_MAX_IN_FLIGHT=8",
	}
	if shared {
		url, stop, err := startRedis(s.redisServer)
		if err != nil {
			return res, err
		}
		defer stop()
		env = append(env, "COUNCIL_REDIS_URL="+url)
	}
	var clients []councilv1.CouncilClient
	for range n {
		p, err := bench.StartProcess(s.councild, nil, env, io.Discard)
		if err != nil {
			return res, err
		}
		defer func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = p.Stop(ctx)
		}()
		conn, err := grpc.NewClient(p.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return res, err
		}
		defer conn.Close()
		clients = append(clients, councilv1.NewCouncilClient(conn))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range s.consultations {
		client := clients[i%n]
		wg.Go(func() {
			t0 := time.Now()
			if consult(ctx, client, i) {
				mu.Lock()
				res.completed++
				res.latencies = append(res.latencies, time.Since(t0))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.wall = time.Since(start)
	st := up.Stats()
	res.requests, res.rejected = st.Requests, st.Rejected
	// The admitted rate over every window but the last, which the
	// backlog may not fill.
	var first, last time.Time
	for slot := range st.Admitted {
		if first.IsZero() || slot.Start.Before(first) {
			first = slot.Start
		}
		if slot.Start.After(last) {
			last = slot.Start
		}
	}
	admitted := 0
	for slot, k := range st.Admitted {
		if slot.Start.Before(last) {
			admitted += k
		}
	}
	if last.After(first) {
		res.rate = float64(admitted) / last.Sub(first).Seconds()
	}
	return res, nil
}

// consult runs one consultation and reports whether it completed.
func consult(ctx context.Context, client councilv1.CouncilClient, i int) bool {
	stream, err := client.Consult(ctx, &councilv1.ConsultRequest{Query: fmt.Sprintf("Question %d: what limits a rate-limited API?", i)})
	if err != nil {
		return false
	}
	var last *councilv1.ConsultResponse
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return last.GetConsultCompleted() != nil
		}
		if err != nil {
			return false
		}
		last = msg
	}
}

// startRedis starts redis-server on a free loopback port, without
// persistence, and returns its URL and a function that stops it.
func startRedis(bin string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("start %s: %w", bin, err)
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return "redis://" + addr + "/0", stop, nil
		}
	}
	stop()
	return "", nil, fmt.Errorf("redis-server on %s did not listen within 10s", addr)
}
