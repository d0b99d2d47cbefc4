package openrouter

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countingServer is an httptest server that counts the connections made
// to it and answers with the request's protocol major version and body.
type countingServer struct {
	*httptest.Server
	conns atomic.Int64
}

func newCountingServer(t *testing.T, tlsOn, h2 bool, maxStreams int, handler http.HandlerFunc) *countingServer {
	t.Helper()
	s := &countingServer{}
	if handler == nil {
		handler = func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Proto-Major", string(rune('0'+r.ProtoMajor)))
			_, _ = w.Write(body)
		}
	}
	s.Server = httptest.NewUnstartedServer(handler)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	if maxStreams > 0 {
		s.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: maxStreams}
	}
	switch {
	case tlsOn && h2:
		s.EnableHTTP2 = true
		s.StartTLS()
	case tlsOn:
		s.Config.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
		s.StartTLS()
	default:
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

// roundTripperFor returns NewRoundTripper over a transport trusting s.
func roundTripperFor(s *countingServer) http.RoundTripper {
	base := NewTransport()
	if s.TLS != nil {
		base.TLSClientConfig = &tls.Config{RootCAs: s.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
	}
	return NewRoundTripper(base)
}

func TestRoundTripperProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		tls, h2   bool
		wantMajor string
	}{
		{"https with HTTP/2", true, true, "2"},
		{"https without HTTP/2", true, false, "1"},
		{"plain http", false, false, "1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newCountingServer(t, tc.tls, tc.h2, 0, nil)
			rt := roundTripperFor(s)
			defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			client := &http.Client{Transport: rt}
			for i := range 3 {
				req, err := http.NewRequest(http.MethodPost, s.URL, strings.NewReader("body"))
				if err != nil {
					t.Fatal(err)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if got := resp.Header.Get("X-Proto-Major"); got != tc.wantMajor || string(body) != "body" {
					t.Errorf("request %d: HTTP/%s with body %q, want HTTP/%s with the request's body", i, got, body, tc.wantMajor)
				}
			}
		})
	}
}

func TestRoundTripperDialsOneConnectionAtATime(t *testing.T) {
	// 250 requests held at once by a server allowing 100 streams per
	// connection need 3 connections; a dial per request that finds the
	// connections full opens dozens. (A client assumes 100 streams until
	// the server's settings arrive.)
	const streams, calls = 100, 250
	release := make(chan struct{})
	var arrived sync.WaitGroup
	arrived.Add(calls)
	s := newCountingServer(t, true, true, streams, func(w http.ResponseWriter, r *http.Request) {
		arrived.Done()
		<-release
		w.Header().Set("X-Proto-Major", string(rune('0'+r.ProtoMajor)))
	})
	rt := roundTripperFor(s)
	defer rt.(interface{ CloseIdleConnections() }).CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, calls)
	for range calls {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL, nil)
			resp, err := rt.RoundTrip(req)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 2 {
				errs <- io.ErrUnexpectedEOF
			}
		})
	}
	done := make(chan struct{})
	go func() { arrived.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatalf("only some requests reached the server; %d connections", s.conns.Load())
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request: %v", err)
	}
	if n, want := s.conns.Load(), int64((calls+streams-1)/streams); n != want {
		t.Errorf("%d connections for %d requests at %d streams each, want %d", n, calls, streams, want)
	}
}
