package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/limitertest"
	"github.com/councilhq/council/internal/redistest"
)

// The council of the replica tests: three models, one of them chairman,
// so a consultation makes seven calls.
var sharedCouncil = []string{"vendor/model-a", "vendor/model-b", "vendor/model-c"}

// Limits of the upstream the replica tests share: requests per window,
// for the whole key.
const (
	sharedLimit  = 20
	sharedWindow = time.Second
)

// replicaEnv is the environment of a councild replica against up, sharing
// budgets through redisURL when it is not empty.
func replicaEnv(up *limitertest.Upstream, redisURL string) []string {
	env := []string{
		"COUNCIL_PROVIDER=openrouter",
		"OPENROUTER_BASE_URL=" + up.URL,
		"OPENROUTER_API_KEY=" + apiKey,
		"COUNCIL_MODELS=" + strings.Join(sharedCouncil, ","),
		"CHAIRMAN_MODEL=" + sharedCouncil[0],
		"COUNCIL_COLLECT_TIMEOUT=5m",
		"COUNCIL_REVIEW_TIMEOUT=5m",
		"COUNCIL_SYNTHESIZE_TIMEOUT=5m",
		"COUNCIL_MAX_CONSULT_DURATION=10m",
		// The upstream's limit, not the replica, sets the pace here.
		"COUNCIL_ADAPTIVE_ADMISSION=false",
		// OpenRouter announces its limit on 429s only: until the first,
		// the in-flight cap alone bounds what is sent, and so the 429s
		// of the first window (at 8, up to 2.2 % of a run's requests).
		"COUNCIL_UPSTREAM_MAX_IN_FLIGHT=6",
		"HOME=" + os.TempDir(),
	}
	if redisURL != "" {
		env = append(env, "COUNCIL_REDIS_URL="+redisURL)
	}
	return env
}

// replicaRun is what one batch of consultations over the replicas did.
type replicaRun struct {
	failed             int
	requests, rejected int
	rate, allowed      float64
	wall               time.Duration
}

// share is the part of the upstream's requests answered with 429.
func (r replicaRun) share() float64 { return float64(r.rejected) / float64(max(r.requests, 1)) }

func (r replicaRun) String() string {
	return fmt.Sprintf("%d requests, %d answered 429 (%.1f %%), %.1f/s admitted of %.0f/s allowed (%.0f %%), %d failed, %v",
		r.requests, r.rejected, 100*r.share(), r.rate, r.allowed, 100*r.rate/r.allowed, r.failed, r.wall.Round(time.Millisecond))
}

// consultAll runs n consultations spread round robin over the clients,
// all at once, and returns what the upstream saw. progress, when set, is
// called with the number of consultations ended so far after each one.
func consultAll(t *testing.T, clients []councilv1.CouncilClient, up *limitertest.Upstream, n int, progress func(done int)) replicaRun {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	before := up.Stats()
	start := time.Now()
	var failed, done atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		client := clients[i%len(clients)]
		wg.Go(func() {
			defer func() {
				if progress != nil {
					progress(int(done.Add(1)))
				}
			}()
			stream, err := client.Consult(ctx, &councilv1.ConsultRequest{Query: fmt.Sprintf("Question %d: what limits a rate-limited API?", i)})
			if err != nil {
				t.Errorf("consultation %d: %v", i, err)
				failed.Add(1)
				return
			}
			var last *councilv1.ConsultResponse
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Errorf("consultation %d: %v", i, err)
					failed.Add(1)
					return
				}
				last = msg
			}
			if last.GetConsultCompleted() == nil {
				t.Errorf("consultation %d ended with %T", i, last.GetEvent())
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	after := up.Stats()
	r := replicaRun{
		failed:   int(failed.Load()),
		requests: after.Requests - before.Requests,
		rejected: after.Rejected - before.Rejected,
		allowed:  float64(sharedLimit) / sharedWindow.Seconds(),
		wall:     time.Since(start),
	}
	// The rate the upstream admitted requests at while consultations
	// waited: over every window of the run but the last, which the
	// backlog may not fill.
	var first, last time.Time
	for slot := range after.Admitted {
		if slot.Start.Before(start.Truncate(sharedWindow)) {
			continue
		}
		if first.IsZero() || slot.Start.Before(first) {
			first = slot.Start
		}
		if slot.Start.After(last) {
			last = slot.Start
		}
	}
	admitted := 0
	for slot, k := range after.Admitted {
		if !slot.Start.Before(first) && slot.Start.Before(last) {
			admitted += k
		}
	}
	if last.After(first) {
		r.rate = float64(admitted) / last.Sub(first).Seconds()
	}
	return r
}

// startReplicas starts n councild processes against up and returns a
// client of each.
func startReplicas(t *testing.T, bin string, n int, env []string) ([]*process, []councilv1.CouncilClient) {
	t.Helper()
	var ps []*process
	var clients []councilv1.CouncilClient
	for range n {
		p := startCouncild(t, bin, env...)
		conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		ps = append(ps, p)
		clients = append(clients, councilv1.NewCouncilClient(conn))
	}
	return ps, clients
}

// TestReplicasShareOneKeysBudget runs three councild processes against one
// upstream that admits 20 requests a second for the whole key. Sharing
// their budgets through one Redis, 60 consultations spread over them all
// complete, at most 2 % of the upstream's answers are 429s, and the
// upstream admits requests at 85 % of its limit or more. With Redis
// killed mid-run the consultations go on completing on each replica's own
// limits; when it is back, every replica rejoins and says so.
func TestReplicasShareOneKeysBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three councild processes for a minute")
	}
	bin := buildCouncild(t)
	// OpenRouter's dialect announces the key's budget, on 429s only;
	// OpenAI's announces it on every answer as the model's, and the
	// replicas learn together that the key's models share it.
	for _, d := range []limitertest.Dialect{limitertest.OpenRouter, limitertest.OpenAI} {
		t.Run(d.String(), func(t *testing.T) {
			srv := redistest.Start(t)
			up := limitertest.NewUpstream(limitertest.UpstreamConfig{Dialect: d, Limit: sharedLimit, Window: sharedWindow, Now: time.Now, Models: sharedCouncil})
			t.Cleanup(up.Close)
			ps, clients := startReplicas(t, bin, 3, replicaEnv(up, srv.URL()))

			r := consultAll(t, clients, up, 60, nil)
			t.Logf("3 replicas, shared budgets: %v", r)
			if r.failed > 0 {
				t.Fatalf("%d of 60 consultations failed", r.failed)
			}
			if r.share() > 0.02 {
				t.Errorf("%.1f %% of the upstream's answers were 429s, want at most 2 %%", 100*r.share())
			}
			if r.rate < 0.85*r.allowed {
				t.Errorf("the upstream admitted %.1f requests/s, want at least 85 %% of the %.0f allowed", r.rate, r.allowed)
			}

			// Redis dies a third of the way through and is back at two
			// thirds.
			var stopped, restarted sync.Once
			r = consultAll(t, clients, up, 60, func(done int) {
				if done >= 20 {
					stopped.Do(srv.Stop)
				}
				if done >= 40 {
					restarted.Do(srv.Restart)
				}
			})
			t.Logf("3 replicas, Redis down for the middle third: %v", r)
			if r.failed > 0 {
				t.Fatalf("%d of 60 consultations failed with Redis down for a while", r.failed)
			}
			deadline := time.Now().Add(10 * time.Second)
			for i, p := range ps {
				for !strings.Contains(p.log.String(), "redis answers again") {
					if time.Now().After(deadline) {
						t.Fatalf("replica %d did not rejoin Redis:\n%s", i, p.log)
					}
					time.Sleep(50 * time.Millisecond)
				}
				if n := strings.Count(p.log.String(), "redis does not answer"); n != 1 {
					t.Errorf("replica %d logged the outage %d times, want once:\n%s", i, n, p.log)
				}
			}
		})
	}
}
