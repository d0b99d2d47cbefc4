package openrouter

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/http2"
)

// NewTransport returns an [*http.Transport] tuned for a council's fan-out:
// many concurrent, long-lived streaming requests to one host. Build it once,
// wrap it if needed (for example with otelhttp), and share the resulting
// [*http.Client] between all clients.
//
// Compared with [http.DefaultTransport] it keeps up to 1024 idle connections
// per host and in total (the default of 2 per host would make every fan-out
// beyond the second call dial and handshake again over HTTP/1.1), closes idle ones after
// 90s, and sends HTTP/2 health-check pings on a connection that has been
// silent for 30s, closing it when a ping is not answered within 15s, so a
// dead connection cannot stall a stream until its deadline. Dialing and the
// TLS handshake are bounded by 10s each; TCP keep-alives are sent every 30s.
//
// Its connections are read at the ticks of a clock (see [WithReadTick];
// [DefaultReadTick] by default) rather than once for every segment that
// arrives.
//
// It sets no response-header or overall timeout, because a completion may
// legitimately take minutes: bound each call with its context (see
// deadline.New). It uses no proxy; set Proxy (for example to
// [http.ProxyFromEnvironment]) on the result if one is needed.
func NewTransport(opts ...TransportOption) *http.Transport {
	cfg := transportConfig{readTick: DefaultReadTick}
	for _, o := range opts {
		o(&cfg)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return newClockedConn(c, cfg.readTick), nil
		},
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}
}

// DefaultReadTick is the tick at which [NewTransport]'s connections are read
// unless [WithReadTick] says otherwise.
const DefaultReadTick = time.Millisecond

// TransportOption configures [NewTransport].
type TransportOption func(*transportConfig)

// transportConfig is what the options of [NewTransport] set.
type transportConfig struct {
	readTick time.Duration
}

// WithReadTick makes the transport read its connections at ticks of d, a
// clock shared by all of them, instead of whenever a segment arrives: a
// streamed completion arrives a token per segment, and one wake-up a tick
// for all the streams of the process costs far less than one a token. Each
// piece of a stream then waits up to d more before it is read; a close, a
// reset or a burst of 64 KiB is read at once. A connection that has neither
// read nor written for 200 ms ticks every 10 ms (or every d, if longer)
// until it writes again. Zero or less reads every segment as it arrives,
// as does any system other than Linux, where the clock is not used.
func WithReadTick(d time.Duration) TransportOption {
	return func(c *transportConfig) { c.readTick = d }
}

// errNoHTTP2 is the dial error of a server that does not negotiate HTTP/2.
var errNoHTTP2 = errors.New("openrouter: the server does not negotiate HTTP/2")

// h2First sends https requests over HTTP/2 connections of its own pool and
// everything else through the base transport.
type h2First struct {
	base *http.Transport
	h2   *http2.Transport
	// h1 holds the hosts (host:port) found not to speak HTTP/2.
	h1 sync.Map
}

// NewRoundTripper returns a RoundTripper for base (see [NewTransport])
// that sends https requests over HTTP/2 from a pool that dials one
// connection to a host at a time: when every connection is at the
// server's stream limit (250 for many servers), the requests that find no
// room wait for the one dial in progress instead of each dialing its own,
// as [http.Transport] does. A burst of a thousand calls then opens the
// few connections it needs rather than hundreds, each a TLS handshake and
// a few goroutines and buffers. It uses base's dialer, TLS configuration
// and handshake timeout, closes connections idle for base's
// IdleConnTimeout and pings a connection silent for 30s, closing it when
// no answer comes within 15s.
//
// Plain http requests, requests when base has a Proxy, and requests to a
// server found not to negotiate HTTP/2 (remembered per host) go through
// base.
func NewRoundTripper(base *http.Transport) http.RoundTripper {
	t := &h2First{base: base}
	dial := base.DialContext
	if dial == nil {
		dial = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	}
	handshake := base.TLSHandshakeTimeout
	t.h2 = &http2.Transport{
		TLSClientConfig: base.TLSClientConfig,
		DialTLSContext: func(ctx context.Context, network, addr string, cfg *tls.Config) (net.Conn, error) {
			raw, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if handshake > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, handshake)
				defer cancel()
			}
			// Offering HTTP/1.1 too lets a server without HTTP/2 say so
			// instead of failing the handshake.
			if !slices.Contains(cfg.NextProtos, "http/1.1") {
				cfg.NextProtos = append(slices.Clip(cfg.NextProtos), "http/1.1")
			}
			conn := tls.Client(raw, cfg)
			if err := conn.HandshakeContext(ctx); err != nil {
				_ = raw.Close()
				return nil, err
			}
			if conn.ConnectionState().NegotiatedProtocol != http2.NextProtoTLS {
				_ = conn.Close()
				return nil, errNoHTTP2
			}
			return conn, nil
		},
		IdleConnTimeout: base.IdleConnTimeout,
		ReadIdleTimeout: 30 * time.Second,
		PingTimeout:     15 * time.Second,
	}
	return t
}

// RoundTrip sends req over HTTP/2 when it can, else through the base
// transport.
func (t *h2First) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme != "https" || t.base.Proxy != nil {
		return t.base.RoundTrip(req)
	}
	if _, ok := t.h1.Load(req.URL.Host); ok {
		return t.base.RoundTrip(req)
	}
	resp, err := t.h2.RoundTrip(req)
	if !errors.Is(err, errNoHTTP2) {
		return resp, err
	}
	t.h1.Store(req.URL.Host, struct{}{})
	// Nothing was sent; the body, if any, is sent afresh.
	if req.Body != nil && req.Body != http.NoBody {
		if req.GetBody == nil {
			_ = req.Body.Close()
			return nil, err
		}
		body, gerr := req.GetBody()
		_ = req.Body.Close()
		if gerr != nil {
			return nil, gerr
		}
		req = req.Clone(req.Context())
		req.Body = body
	}
	return t.base.RoundTrip(req)
}

// CloseIdleConnections closes the idle connections of both pools.
func (t *h2First) CloseIdleConnections() {
	t.h2.CloseIdleConnections()
	t.base.CloseIdleConnections()
}
