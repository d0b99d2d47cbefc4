package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/councilhq/council/consultation"
	"github.com/councilhq/council/eventlog"
	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/openroutertest"
	"github.com/councilhq/council/internal/redistest"
	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/internal/streams"
	"github.com/councilhq/council/internal/syncbuf"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
	"github.com/councilhq/council/redisconn"
	"github.com/councilhq/council/server"
)

// Bearer tokens of the replicas; the first is the caller "token-1".
const (
	tokenA = "tok-replicas-a"
	tokenB = "tok-replicas-b"
)

// replica is one councild in-process: its own Redis client, orchestrator
// and gRPC server on a loopback port, sharing the upstream and the Redis
// of the others.
type replica struct {
	addr   string
	conn   *grpc.ClientConn
	client councilv1.CouncilClient
	logs   *syncbuf.Buffer
}

// replicaConfig tunes newReplicas.
type replicaConfig struct {
	// redis is the shared Redis; nil keeps each replica's log in memory.
	redis *redistest.Server
	// lease is the consultations' lease (default 1 s).
	lease time.Duration
	// grace is the detached grace (default 30 s).
	grace time.Duration
}

// newReplicas starts n replicas in front of up.
func newReplicas(t testing.TB, n int, up *openroutertest.Server, cfg replicaConfig) []*replica {
	t.Helper()
	if cfg.lease == 0 {
		cfg.lease = time.Second
	}
	if cfg.grace == 0 {
		cfg.grace = 30 * time.Second
	}
	out := make([]*replica, n)
	for i := range out {
		out[i] = startReplica(t, up, cfg)
	}
	return out
}

func startReplica(t testing.TB, up *openroutertest.Server, cfg replicaConfig) *replica {
	t.Helper()
	httpClient := &http.Client{Transport: openrouter.NewTransport()}
	client, err := openrouter.New(httpClient, openrouter.Config{BaseURL: up.URL(), APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	known, err := client.ListModels(ctx)
	if err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	c, err := orchestrator.New(client, orchestrator.Config{
		KnownModels:    provider.ModelIDs(known),
		CollectTimeout: 10 * time.Second, ReviewTimeout: 10 * time.Second, SynthesizeTimeout: 10 * time.Second,
	}, orchestrator.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	var l eventlog.Log = eventlog.NewMemory(time.Minute)
	if cfg.redis != nil {
		rdb, err := redisconn.Open(redisconn.Config{URL: cfg.redis.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = rdb.Close() })
		if l, err = eventlog.NewRedis(rdb, eventlog.RedisConfig{Retention: time.Minute, Lease: cfg.lease}); err != nil {
			t.Fatal(err)
		}
	}
	m, err := consultation.New(l, consultation.Config{DetachedGrace: cfg.grace, RenewEvery: cfg.lease / 3, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(c, server.WithLogger(log), server.WithDrainTimeout(waitTimeout),
		server.WithConsultations(m), server.WithBearerTokens(tokenA, tokenB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(httpClient.CloseIdleConnections)
	addr := servertest.Serve(t, srv)
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &replica{addr: addr, conn: conn, client: councilv1.NewCouncilClient(conn), logs: logs}
}

// as returns ctx carrying token as the caller's bearer token.
func as(ctx context.Context, token string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
}

// slowUpstream answers every model call after latency, so that a
// consultation takes a few of them.
func slowUpstream(t testing.TB, latency time.Duration) *openroutertest.Server {
	t.Helper()
	up := openroutertest.NewServer(openroutertest.WithKey(apiKey), openroutertest.WithDefault(openroutertest.Behavior{Latency: latency}))
	t.Cleanup(up.Close)
	return up
}

// watch runs a Watch to its end.
func watch(ctx context.Context, r *replica, id string, after uint64) ([]*councilv1.ConsultResponse, error) {
	stream, err := r.client.Watch(ctx, &councilv1.WatchRequest{ConsultationId: id, AfterSequence: after})
	if err != nil {
		return nil, err
	}
	return streams.ReadAll(stream)
}

// reason returns the ErrorInfo reason of err's status.
func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// sameEvents fails unless got and want are the same events.
func sameEvents(t *testing.T, got, want []*councilv1.ConsultResponse) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d events, want %d", len(got), len(want))
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Fatalf("event %d differs:\n got %v\nwant %v", i, got[i], want[i])
		}
	}
}

// sameStatus fails unless got and want are the same status, details
// included.
func sameStatus(t *testing.T, got, want error) {
	t.Helper()
	if !proto.Equal(status.Convert(got).Proto(), status.Convert(want).Proto()) {
		t.Fatalf("status %v, want %v", got, want)
	}
}

func TestWatchResumesOnAnotherReplica(t *testing.T) {
	srv := redistest.Start(t)
	up := slowUpstream(t, 150*time.Millisecond)
	rs := newReplicas(t, 2, up, replicaConfig{redis: srv})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()

	// Start on replica 1 and drop the client after the third event.
	callCtx, drop := context.WithCancel(as(ctx, tokenA))
	stream, err := rs[0].client.Consult(callCtx, &councilv1.ConsultRequest{Query: "Why is the sky blue?", RequestId: "resume-1"})
	if err != nil {
		t.Fatal(err)
	}
	var first []*councilv1.ConsultResponse
	for len(first) < 3 {
		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("event %d: %v", len(first)+1, err)
		}
		first = append(first, msg)
	}
	drop()
	id := first[0].GetConsultationId()

	// Replica 2 picks up after event 3, live.
	rest, err := watch(as(ctx, tokenA), rs[1], id, 3)
	if err != nil {
		t.Fatalf("Watch on replica 2: %v", err)
	}
	if len(rest) == 0 || rest[len(rest)-1].GetConsultCompleted() == nil {
		t.Fatalf("Watch did not follow to ConsultCompleted: %d events", len(rest))
	}
	for i, ev := range rest {
		if ev.GetSequence() != uint64(4+i) {
			t.Fatalf("Watch event %d has sequence %d, want %d", i, ev.GetSequence(), 4+i)
		}
	}

	// The whole log, replayed on either replica after the end, holds the
	// same events and ends with the same status.
	for i, r := range rs {
		all, err := watch(as(ctx, tokenA), r, id, 0)
		if err != nil {
			t.Fatalf("replay on replica %d: %v", i+1, err)
		}
		sameEvents(t, all[:3], first)
		sameEvents(t, all[3:], rest)
	}

	// Another caller, an unknown id and an expired one look the same.
	for name, call := range map[string]func() error{
		"other caller": func() error { _, err := watch(as(ctx, tokenB), rs[1], id, 0); return err },
		"unknown id":   func() error { _, err := watch(as(ctx, tokenA), rs[1], "0123456789abcdef", 0); return err },
	} {
		err := call()
		if status.Code(err) != codes.NotFound || reason(err) != server.ReasonConsultationNotFound {
			t.Errorf("%s: %v, want NotFound with %s", name, err, server.ReasonConsultationNotFound)
		}
	}
	for _, bad := range []string{"", "a}b", string(make([]byte, 200))} {
		_, err := watch(as(ctx, tokenA), rs[1], bad, 0)
		if status.Code(err) != codes.InvalidArgument || !mentions(err, "consultation_id") {
			t.Errorf("Watch(%q) = %v, want InvalidArgument naming consultation_id", bad, err)
		}
	}
}

// mentions reports whether err's BadRequest names field.
func mentions(err error, field string) bool {
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				if v.GetField() == field {
					return true
				}
			}
		}
	}
	return false
}

// A failed consultation's replay ends with its status, ErrorInfo included.
func TestWatchReplaysTheFinalStatus(t *testing.T) {
	srv := redistest.Start(t)
	up := openroutertest.NewServer(openroutertest.WithKey(apiKey),
		openroutertest.WithDefault(openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 500}))
	t.Cleanup(up.Close)
	rs := newReplicas(t, 2, up, replicaConfig{redis: srv})
	ctx, cancel := context.WithTimeout(as(context.Background(), tokenA), waitTimeout)
	defer cancel()
	stream, err := rs[0].client.Consult(ctx, &councilv1.ConsultRequest{Query: "q"})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := streams.ReadAll(stream)
	if status.Code(err) != codes.Unavailable || reason(err) != server.ReasonQuorumNotMet || len(evs) == 0 {
		t.Fatalf("consultation = %d events, %v; want QUORUM_NOT_MET", len(evs), err)
	}
	replay, rerr := watch(ctx, rs[1], evs[0].GetConsultationId(), 0)
	sameEvents(t, replay, evs)
	sameStatus(t, rerr, err)
}

func TestIdempotentConsultAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	up := slowUpstream(t, 100*time.Millisecond)
	rs := newReplicas(t, 2, up, replicaConfig{redis: srv})
	ctx, cancel := context.WithTimeout(as(context.Background(), tokenA), waitTimeout)
	defer cancel()
	req := &councilv1.ConsultRequest{Query: "Why is the sky blue?"}

	// What one consultation costs upstream.
	before := up.Requests()
	if _, err := readAllConsult(ctx, rs[0], req); err != nil {
		t.Fatal(err)
	}
	one := up.Requests() - before

	req.RequestId = "idem-1"
	before = up.Requests()
	var (
		wg   sync.WaitGroup
		evs  [2][]*councilv1.ConsultResponse
		errs [2]error
	)
	for i, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs[i], errs[i] = readAllConsult(ctx, r, req)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i+1, err)
		}
	}
	if got := up.Requests() - before; got != one {
		t.Fatalf("two Consults with one request id made %d upstream calls, one consultation makes %d", got, one)
	}
	sameEvents(t, evs[1], evs[0])

	// A retry later attaches too, on either replica, and costs nothing.
	again, err := readAllConsult(ctx, rs[1], req)
	if err != nil {
		t.Fatal(err)
	}
	sameEvents(t, again, evs[0])
	if got := up.Requests() - before; got != one {
		t.Fatalf("a retry made %d more upstream calls", got-one)
	}

	// The same request id for another request is refused; another
	// caller's request ids are its own.
	other := proto.Clone(req).(*councilv1.ConsultRequest)
	other.Query = "Why is the sea blue?"
	_, err = readAllConsult(ctx, rs[1], other)
	if status.Code(err) != codes.AlreadyExists || reason(err) != server.ReasonRequestIDReused || !mentions(err, "request_id") {
		t.Fatalf("reused request id = %v, want AlreadyExists naming request_id", err)
	}
	bctx := as(context.Background(), tokenB)
	if theirs, err := readAllConsult(bctx, rs[0], req); err != nil || theirs[0].GetConsultationId() == evs[0][0].GetConsultationId() {
		t.Fatalf("another caller's Consult with the same request id: %v, attached: %v", err, err == nil)
	}
}

func readAllConsult(ctx context.Context, r *replica, req *councilv1.ConsultRequest) ([]*councilv1.ConsultResponse, error) {
	stream, err := r.client.Consult(ctx, req)
	if err != nil {
		return nil, err
	}
	return streams.ReadAll(stream)
}

// Without a request id a client that leaves cancels every upstream call;
// with one, the consultation finishes and can be watched.
func TestDetachedConsultations(t *testing.T) {
	up := slowUpstream(t, 300*time.Millisecond)
	rs := newReplicas(t, 1, up, replicaConfig{})
	ctx, cancel := context.WithTimeout(as(context.Background(), tokenA), waitTimeout)
	defer cancel()
	for _, requestID := range []string{"", "detach-1"} {
		callCtx, drop := context.WithCancel(ctx)
		stream, err := rs[0].client.Consult(callCtx, &councilv1.ConsultRequest{Query: "q", RequestId: requestID})
		if err != nil {
			t.Fatal(err)
		}
		first, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if err := up.WaitInFlight(ctx, 1); err != nil {
			t.Fatal(err)
		}
		drop()
		if requestID == "" {
			s := &stack{upstream: up}
			s.waitUpstreamIdle(t)
			continue
		}
		evs, err := watch(ctx, rs[0], first.GetConsultationId(), 1)
		if err != nil || evs[len(evs)-1].GetConsultCompleted() == nil {
			t.Fatalf("detached consultation: %d events, %v; want it completed", len(evs), err)
		}
	}
}

// With Redis gone mid-run, consultations still complete; once it is back,
// they are recorded and watchable again.
func TestRedisDownConsultationsComplete(t *testing.T) {
	srv := redistest.Start(t)
	up := slowUpstream(t, 100*time.Millisecond)
	rs := newReplicas(t, 2, up, replicaConfig{redis: srv})
	ctx, cancel := context.WithTimeout(as(context.Background(), tokenA), waitTimeout)
	defer cancel()
	stream, err := rs[0].client.Consult(ctx, &councilv1.ConsultRequest{Query: "q", RequestId: "down-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	if evs, err := streams.ReadAll(stream); err != nil || evs[len(evs)-1].GetConsultCompleted() == nil {
		t.Fatalf("consultation running when Redis stopped: %v", err)
	}
	for i, r := range rs {
		evs, err := readAllConsult(ctx, r, &councilv1.ConsultRequest{Query: "q", RequestId: fmt.Sprint("down-", i+2)})
		if err != nil || evs[len(evs)-1].GetConsultCompleted() == nil {
			t.Fatalf("consultation on replica %d with Redis down: %v", i+1, err)
		}
	}
	srv.Restart()
	time.Sleep(consultation.LogRetryAfter)
	evs, err := readAllConsult(ctx, rs[0], &councilv1.ConsultRequest{Query: "q", RequestId: "up-1"})
	if err != nil {
		t.Fatal(err)
	}
	replay, err := watch(ctx, rs[1], evs[0].GetConsultationId(), 0)
	if err != nil {
		t.Fatalf("Watch after Redis came back: %v", err)
	}
	sameEvents(t, replay, evs)
}

// TestReplicaDeathIsLost kills the councild process running a consultation;
// a Watch of it on another councild ends with UNAVAILABLE and
// CONSULTATION_LOST within the lease, instead of hanging.
func TestReplicaDeathIsLost(t *testing.T) {
	srv := redistest.Start(t)
	up := slowUpstream(t, time.Minute)
	bin := buildCouncild(t)
	const lease = time.Second
	env := []string{
		"COUNCIL_PROVIDER=openrouter",
		"OPENROUTER_API_KEY=" + apiKey,
		"OPENROUTER_BASE_URL=" + up.URL(),
		"COUNCIL_REDIS_URL=" + srv.URL(),
		"COUNCIL_CONSULTATION_LEASE=" + lease.String(),
		"COUNCIL_COLLECT_TIMEOUT=10m",
		"HOME=" + t.TempDir(),
	}
	doomed, survivor := startCouncild(t, bin, env...), startCouncild(t, bin, env...)
	dial := func(p *process) councilv1.CouncilClient {
		conn, err := grpc.NewClient(p.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return councilv1.NewCouncilClient(conn)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	stream, err := dial(doomed).Consult(ctx, &councilv1.ConsultRequest{Query: "q", RequestId: "doomed-1"})
	if err != nil {
		t.Fatal(err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	w, err := dial(survivor).Watch(ctx, &councilv1.WatchRequest{ConsultationId: first.GetConsultationId()})
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := w.Recv(); err != nil || !proto.Equal(ev, first) {
		t.Fatalf("Watch on the other replica: %v, %v", ev, err)
	}
	if err := up.WaitInFlight(ctx, 1); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { _, err := streams.ReadAll(w); ended <- err }()
	// Alive while its replica lives.
	time.Sleep(2 * lease)
	select {
	case err := <-ended:
		t.Fatalf("Watch ended while the replica lived: %v", err)
	default:
	}
	if err := doomed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	select {
	case err = <-ended:
	case <-time.After(waitTimeout):
		t.Fatal("Watch of a dead replica's consultation hangs")
	}
	if status.Code(err) != codes.Unavailable || reason(err) != server.ReasonConsultationLost {
		t.Fatalf("Watch after the replica died = %v, want Unavailable with %s", err, server.ReasonConsultationLost)
	}
	if d := time.Since(killed); d > lease+eventlog.MaxWait+time.Second {
		t.Fatalf("Watch ended %v after the kill, want within the lease (%v) and one read", d, lease)
	}
	t.Logf("Watch ended %v after the kill (lease %v)", time.Since(killed).Round(time.Millisecond), lease)
}
