package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/internal/streams"
	"github.com/councilhq/council/internal/syncbuf"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitTimeout bounds every wait in these tests; it is generous so that a
// busy machine cannot make them flaky.
const waitTimeout = 30 * time.Second

// harness is a Server on an in-memory listener with a connected client.
type harness struct {
	client councilv1.CouncilClient
	conn   *grpc.ClientConn
	logs   *syncbuf.Buffer
	stop   context.CancelFunc
	served chan error
}

// start serves c with the production interceptor chain and the given
// options; the server stops and the connection closes when the test ends.
func start(t *testing.T, c Consulter, opts ...Option) *harness {
	t.Helper()
	logs := &syncbuf.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := New(c, append([]Option{WithLogger(logger)}, opts...)...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis := bufconn.Listen(1 << 20)
	ctx, stop := context.WithCancel(context.Background())
	h := &harness{logs: logs, stop: stop, served: make(chan error, 1)}
	go func() { h.served <- srv.Serve(ctx, lis) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		stop()
		t.Fatalf("NewClient: %v", err)
	}
	h.conn = conn
	h.client = councilv1.NewCouncilClient(conn)
	t.Cleanup(func() {
		_ = conn.Close()
		if err := h.shutdown(); err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return h
}

// shutdown cancels Serve's context and returns what Serve returned. It may
// be called more than once.
func (h *harness) shutdown() error {
	h.stop()
	select {
	case err, ok := <-h.served:
		if ok {
			close(h.served)
		}
		return err
	case <-time.After(waitTimeout):
		return errors.New("Serve did not return")
	}
}

// consult runs one Consult call to its end and returns the events and the
// final error (nil for status OK).
func (h *harness) consult(ctx context.Context, req *councilv1.ConsultRequest) ([]*councilv1.ConsultResponse, error) {
	stream, err := h.client.Consult(ctx, req)
	if err != nil {
		return nil, err
	}
	return streams.ReadAll(stream)
}

// errorInfo returns the ErrorInfo and BadRequest details of err's status.
func errorInfo(t *testing.T, err error) (*errdetails.ErrorInfo, *errdetails.BadRequest) {
	t.Helper()
	var info *errdetails.ErrorInfo
	var br *errdetails.BadRequest
	for _, d := range status.Convert(err).Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if info != nil {
				t.Errorf("status has two ErrorInfo details")
			}
			info = d
		case *errdetails.BadRequest:
			br = d
		}
	}
	if info == nil {
		t.Fatalf("status %v has no ErrorInfo", err)
	}
	if info.GetDomain() != ErrorDomain {
		t.Errorf("ErrorInfo domain = %q, want %q", info.GetDomain(), ErrorDomain)
	}
	return info, br
}

// recv waits for a value from ch, failing the test after waitTimeout.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatal("timed out waiting")
		var zero T
		return zero
	}
}
