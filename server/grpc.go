package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/auth"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/logging"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/selector"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
)

// Transport limits. Requests are small (a query of at most MaxQueryBytes plus
// a bounded history); events carry at most one model answer each.
const (
	maxRecvMsgBytes = 4 << 20
	maxSendMsgBytes = 16 << 20
)

// Flow-control windows and buffers, set rather than left to grpc-go's
// defaults so that what a connection and a stream may hold is known. A
// Consult stream receives one request (at most MaxQueryBytes plus
// MaxHistoryBytes, about 80 KB) and sends events, each a coalesced delta
// of about 1 KiB or one model's answer.
const (
	// streamWindowBytes is how much of a request a stream may receive
	// before the server reads it: a whole request of the largest size.
	// Setting it turns off grpc-go's BDP estimation, which would grow the
	// windows (and what a slow handler could be sent) to 16 MiB for no
	// gain on requests this small.
	streamWindowBytes = 128 << 10
	// connWindowBytes is the same for a whole connection: room for a
	// burst of typical requests on one connection without waiting for a
	// window update.
	connWindowBytes = 1 << 20
	// readBufferBytes is each connection's read buffer: it receives
	// requests, window updates and pings only.
	readBufferBytes = 16 << 10
	// writeBufferBytes is each connection's write buffer, taken from a
	// shared pool when there is something to write and returned after the
	// flush (grpc.SharedWriteBuffer), so that thousands of idle client
	// connections hold none.
	writeBufferBytes = 32 << 10
)

// keepalive settings. There is deliberately no MaxConnectionAge: ageing a
// connection out would cut long Consult streams.
var (
	keepaliveParams = keepalive.ServerParameters{
		// Close connections that have had no call for this long.
		MaxConnectionIdle: 15 * time.Minute,
		// Ping a client after this long without activity to detect dead
		// peers, and drop it if the ping is not answered in Timeout.
		Time:    2 * time.Minute,
		Timeout: 20 * time.Second,
	}
	keepalivePolicy = keepalive.EnforcementPolicy{
		// Accept client pings as often as every 10 s, even between calls,
		// so clients can keep long streams alive through proxies.
		MinTime:             10 * time.Second,
		PermitWithoutStream: true,
	}
)

// errPanic stands for a recovered panic; toStatus maps it to Internal.
var errPanic = errors.New("server: handler panicked")

// newGRPCServer builds the grpc.Server with the interceptor chain, outermost
// first: correlation (log fields, consultation id, trace id header),
// logging (skipped for health checks), recovery, bearer
// authentication when tokens is not nil (skipped for health checks),
// admission of consultations, then o's own.
func newGRPCServer(o options, tokens *tokenSet, adm *admission) *grpc.Server {
	logOpts := []logging.Option{logging.WithLogOnEvents(logging.StartCall, logging.FinishCall)}
	logger := slogAdapter(o.logger)
	notHealth := selector.MatchFunc(func(_ context.Context, c interceptors.CallMeta) bool {
		return c.Service != healthpb.Health_ServiceDesc.ServiceName
	})
	recoverOpt := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		o.logger.ErrorContext(ctx, "panic in handler", "panic", p, "stack", string(debug.Stack()))
		return toStatus(errPanic)
	})

	unary := []grpc.UnaryServerInterceptor{
		correlateUnary,
		selector.UnaryServerInterceptor(logging.UnaryServerInterceptor(logger, logOpts...), notHealth),
		recovery.UnaryServerInterceptor(recoverOpt),
	}
	stream := []grpc.StreamServerInterceptor{
		correlateStream,
		selector.StreamServerInterceptor(logging.StreamServerInterceptor(logger, logOpts...), notHealth),
		recovery.StreamServerInterceptor(recoverOpt),
	}
	if tokens != nil {
		unary = append(unary, selector.UnaryServerInterceptor(auth.UnaryServerInterceptor(tokens.authenticate), notHealth))
		stream = append(stream, selector.StreamServerInterceptor(auth.StreamServerInterceptor(tokens.authenticate), notHealth))
	}
	unary = append(unary, o.unary...)
	stream = append(append(stream, adm.streamInterceptor), o.stream...)

	sopts := []grpc.ServerOption{
		grpc.KeepaliveParams(keepaliveParams),
		grpc.KeepaliveEnforcementPolicy(keepalivePolicy),
		grpc.MaxRecvMsgSize(maxRecvMsgBytes),
		grpc.MaxSendMsgSize(maxSendMsgBytes),
		grpc.InitialWindowSize(streamWindowBytes),
		grpc.InitialConnWindowSize(connWindowBytes),
		grpc.ReadBufferSize(readBufferBytes),
		grpc.WriteBufferSize(writeBufferBytes),
		grpc.SharedWriteBuffer(true),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.InTapHandle(adm.tap),
		grpc.ForceServerCodecV2(newPassThroughCodec()),
	}
	if o.tlsConfig != nil {
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(o.tlsConfig)))
	}
	if o.statsHandler != nil {
		sopts = append(sopts, grpc.StatsHandler(o.statsHandler))
	}
	return grpc.NewServer(sopts...)
}

// slogAdapter makes a logging.Logger of an slog.Logger.
func slogAdapter(l *slog.Logger) logging.Logger {
	return logging.LoggerFunc(func(ctx context.Context, lvl logging.Level, msg string, fields ...any) {
		l.Log(ctx, slog.Level(lvl), msg, fields...)
	})
}
