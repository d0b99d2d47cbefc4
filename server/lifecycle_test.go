package server

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/orchestrator"
)

const councilService = "council.v1.Council"

func TestNewRejectsNilConsulter(t *testing.T) {
	if _, err := New(nil); err == nil {
		t.Error("New(nil) returned no error")
	}
}

func TestHealthServingThenNotServingOnShutdown(t *testing.T) {
	h := start(t, &script{}, WithDrainTimeout(waitTimeout))
	hc := healthpb.NewHealthClient(h.conn)
	for _, svc := range []string{"", councilService} {
		resp, err := hc.Check(context.Background(), &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("Check(%q) = %v, %v; want SERVING", svc, resp.GetStatus(), err)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: councilService})
	if err != nil {
		// The draining server already refuses new streams: as good.
		cancel()
		return
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first Watch status = %v, %v", resp.GetStatus(), err)
	}

	h.stop()
	resp, err := watch.Recv()
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch status after shutdown = %v, %v; want NOT_SERVING", resp.GetStatus(), err)
	}
	// The open Watch stream is the last in-flight call; ending it lets
	// the graceful stop finish well before the drain timeout.
	cancel()
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownLetsInFlightConsultFinish(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	h := start(t, ConsulterFunc(func(ctx context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
		return emit(started(1))
	}), WithDrainTimeout(waitTimeout))

	done := make(chan error, 1)
	go func() {
		evs, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
		if err == nil && len(evs) != 1 {
			err = errors.New("want one event")
		}
		done <- err
	}()
	recv(t, entered)
	served := make(chan error, 1)
	go func() { served <- h.shutdown() }()
	// Serve is draining: the health service already reports NOT_SERVING
	// on the existing connection.
	waitNotServing(t, h)
	close(release)
	if err := recv(t, done); err != nil {
		t.Errorf("in-flight Consult: %v", err)
	}
	if err := recv(t, served); err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func waitNotServing(t *testing.T, h *harness) {
	t.Helper()
	hc := healthpb.NewHealthClient(h.conn)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: councilService})
	if err != nil {
		// The draining server already refuses new streams: as good.
		return
	}
	for {
		resp, err := watch.Recv()
		if err != nil {
			// A draining server refuses new streams; that is as good.
			return
		}
		if resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			return
		}
	}
}

func TestShutdownCancelsConsultAfterDrainTimeout(t *testing.T) {
	seen := make(chan error, 1)
	entered := make(chan struct{})
	h := start(t, ConsulterFunc(func(ctx context.Context, _ orchestrator.Request, _ func(orchestrator.Event) error) error {
		close(entered)
		<-ctx.Done()
		seen <- ctx.Err()
		return ctx.Err()
	}), WithDrainTimeout(10*time.Millisecond))

	done := make(chan error, 1)
	go func() {
		_, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"})
		done <- err
	}()
	recv(t, entered)
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := recv(t, seen); !errors.Is(err, context.Canceled) {
		t.Errorf("Consulter's ctx error = %v, want context.Canceled", err)
	}
	if err := recv(t, done); status.Code(err) == codes.OK {
		t.Errorf("cut-off Consult ended with OK")
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	srv, err := New(&script{})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_ = lis.Close()
	if err := srv.Serve(context.Background(), lis); err == nil {
		t.Error("Serve on a closed listener returned nil")
	}
}

func TestReflectionListsCouncil(t *testing.T) {
	h := start(t, &script{})
	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatalf("ServerReflectionInfo: %v", err)
	}
	defer func() { _ = stream.CloseSend() }()
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{councilService, healthpb.Health_ServiceDesc.ServiceName} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
}

func TestListTiers(t *testing.T) {
	t.Run("defaults", func(t *testing.T) {
		h := start(t, &script{})
		resp, err := h.client.ListTiers(context.Background(), &councilv1.ListTiersRequest{})
		if err != nil {
			t.Fatalf("ListTiers: %v", err)
		}
		var want []*councilv1.TierInfo
		for _, tier := range orchestrator.Tiers() {
			want = append(want, &councilv1.TierInfo{
				Tier:            tierEnum(tier.Name),
				CouncilModels:   tier.Council,
				ChairmanModel:   tier.Chairman,
				ExpectedLatency: durationpb.New(tier.ExpectedLatency),
				CostPerQueryUsd: tier.CostPerQuery,
				ServerDefault:   tier.Name == orchestrator.DefaultTierName,
			})
		}
		if len(want) != 3 {
			t.Fatalf("orchestrator has %d tiers, want 3", len(want))
		}
		if diff := cmp.Diff(want, resp.GetTiers(), protocmp.Transform()); diff != "" {
			t.Errorf("tiers mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("configured", func(t *testing.T) {
		tiers := []orchestrator.Tier{
			{Name: "speed", Council: []string{"x", "y"}, Chairman: "z", ExpectedLatency: time.Second, CostPerQuery: 1},
			{Name: "turbo", Council: []string{"u"}, Chairman: "u"},
		}
		h := start(t, &script{}, WithTiers("speed", tiers))
		resp, err := h.client.ListTiers(context.Background(), &councilv1.ListTiersRequest{})
		if err != nil {
			t.Fatalf("ListTiers: %v", err)
		}
		want := []*councilv1.TierInfo{{
			Tier: councilv1.Tier_TIER_SPEED, CouncilModels: []string{"x", "y"}, ChairmanModel: "z",
			ExpectedLatency: durationpb.New(time.Second), CostPerQueryUsd: 1, ServerDefault: true,
		}}
		if diff := cmp.Diff(want, resp.GetTiers(), protocmp.Transform()); diff != "" {
			t.Errorf("tiers mismatch (-want +got):\n%s", diff)
		}
	})
}

func TestLogsCallsWithoutPayloads(t *testing.T) {
	const query = "PRIVATE-QUESTION-TEXT"
	h := start(t, &script{events: []orchestrator.Event{{
		Sequence: 1, Payload: &orchestrator.ModelAnswered{Model: "m", Content: "PRIVATE-ANSWER-TEXT"},
	}}})
	if _, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: query}); err != nil {
		t.Fatalf("Consult: %v", err)
	}
	if _, err := healthpb.NewHealthClient(h.conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("Check: %v", err)
	}
	if err := h.shutdown(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	logs := h.logs.String()
	for _, want := range []string{"started call", "finished call", "Consult"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %q:\n%s", want, logs)
		}
	}
	for _, bad := range []string{"PRIVATE", "grpc.health"} {
		if strings.Contains(logs, bad) {
			t.Errorf("logs contain %q:\n%s", bad, logs)
		}
	}
}

// countingHandler is a stats.Handler that counts the RPCs it sees.
type countingHandler struct{ rpcs atomic.Int32 }

func (c *countingHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (c *countingHandler) HandleRPC(_ context.Context, s stats.RPCStats) {
	if _, ok := s.(*stats.Begin); ok {
		c.rpcs.Add(1)
	}
}
func (c *countingHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c *countingHandler) HandleConn(context.Context, stats.ConnStats) {}

func TestExtraInterceptorsAndStatsHandler(t *testing.T) {
	var (
		mu    sync.Mutex
		order []string
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		order = append(order, s)
	}
	sh := &countingHandler{}
	h := start(t, ConsulterFunc(func(_ context.Context, _ orchestrator.Request, emit func(orchestrator.Event) error) error {
		note("handler")
		return emit(started(1))
	}),
		WithStatsHandler(sh),
		WithStreamInterceptors(
			func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				note("first")
				return handler(srv, ss)
			},
			nil,
			func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
				note("second")
				return handler(srv, ss)
			},
		),
		WithUnaryInterceptors(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			if info.FullMethod == councilv1.Council_ListTiers_FullMethodName {
				panic("boom")
			}
			return handler(ctx, req)
		}),
	)
	if _, err := h.consult(context.Background(), &councilv1.ConsultRequest{Query: "q"}); err != nil {
		t.Fatalf("Consult: %v", err)
	}
	mu.Lock()
	got := strings.Join(order, ",")
	mu.Unlock()
	if got != "first,second,handler" {
		t.Errorf("interceptor order = %s", got)
	}
	if sh.rpcs.Load() == 0 {
		t.Error("stats handler saw no RPC")
	}
	// A panic in an added interceptor is recovered too.
	_, err := h.client.ListTiers(context.Background(), &councilv1.ListTiersRequest{})
	if status.Code(err) != codes.Internal {
		t.Errorf("ListTiers with panicking interceptor = %v, want Internal", err)
	}
}
