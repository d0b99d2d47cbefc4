package servertest_test

import (
	"context"
	"net"
	"testing"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/councilhq/council/internal/servertest"
	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/server"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestServeServesUntilTheTestEnds checks the server answers while the
// test runs and its port is closed once the test's cleanups have run.
func TestServeServesUntilTheTestEnds(t *testing.T) {
	var addr string
	t.Run("serving", func(t *testing.T) {
		srv, err := server.New(server.ConsulterFunc(func(context.Context, orchestrator.Request, func(orchestrator.Event) error) error {
			return nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		addr = servertest.Serve(t, srv)
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health check: %v, %v", resp, err)
		}
	})
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections after the test ended", addr)
	}
}
