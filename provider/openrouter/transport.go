package openrouter

import (
	"net"
	"net/http"
	"time"
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
// It sets no response-header or overall timeout, because a completion may
// legitimately take minutes: bound each call with its context (see
// [provider.Timeout]). It uses no proxy; set Proxy (for example to
// [http.ProxyFromEnvironment]) on the result if one is needed.
func NewTransport() *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
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
