package openrouter

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

func TestSentBodyLetsGoOfItsBytes(t *testing.T) {
	t.Parallel()
	want := []byte(`{"model":"m","messages":[]}`)
	s := &sentBody{b: bytes.Clone(want)}
	got, err := io.ReadAll(io.MultiReader(io.LimitReader(s, 5), s))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	if s.b != nil {
		t.Errorf("the body keeps %d bytes after its last read", cap(s.b))
	}
}

// TestCompleteResendsARefusedRequest checks that a request the server
// refused after reading its body (RST_STREAM REFUSED_STREAM, as a server
// going away does) is sent again whole by the HTTP/2 transport, through the
// request's GetBody, and then answered.
func TestCompleteResendsARefusedRequest(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	bodies := make(chan []byte, 2)
	go refuseFirstStream(t, ln, bodies)

	plain := &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		},
	}
	t.Cleanup(plain.CloseIdleConnections)
	c, err := New(&http.Client{Transport: plain}, Config{BaseURL: "http://" + ln.Addr().String() + "/api/v1", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Complete(ctx, userRequest(nil))
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.Content != "Rayleigh scattering." {
		t.Errorf("content = %q", resp.Content)
	}
	first, second := <-bodies, <-bodies
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Errorf("the request was sent again as %q, first as %q", second, first)
	}
	if !bytes.Contains(first, []byte("Why is the sky blue?")) {
		t.Errorf("body %q lacks the question", first)
	}
}

// refuseFirstStream serves one HTTP/2 connection from ln: it sends each
// request body it reads to bodies, refuses the first stream after reading
// its body whole, and answers the next with a JSON completion.
func refuseFirstStream(t *testing.T, ln net.Listener, bodies chan<- []byte) {
	conn, err := ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(conn, preface); err != nil {
		t.Errorf("reading the preface: %v", err)
		return
	}
	fr := http2.NewFramer(conn, conn)
	if err := fr.WriteSettings(); err != nil {
		return
	}
	refused := false
	body := map[uint32][]byte{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		var id uint32
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = fr.WriteSettingsAck()
			}
			continue
		case *http2.HeadersFrame:
			id = f.StreamID
			if !f.StreamEnded() {
				continue
			}
		case *http2.DataFrame:
			id = f.StreamID
			body[id] = append(body[id], f.Data()...)
			if !f.StreamEnded() {
				continue
			}
		default:
			continue
		}
		bodies <- body[id]
		if !refused {
			refused = true
			_ = fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
			continue
		}
		var hdr bytes.Buffer
		enc := hpack.NewEncoder(&hdr)
		_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
		_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/json"})
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: hdr.Bytes(), EndHeaders: true})
		answer := `{"id":"gen-1","model":"openai/gpt-4o-mini","choices":[{"message":{"role":"assistant","content":"Rayleigh scattering."},"finish_reason":"stop"}]}`
		_ = fr.WriteData(id, true, []byte(answer))
	}
}
