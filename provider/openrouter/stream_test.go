package openrouter

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/councilhq/council/provider"
)

// typicalStream is a complete OpenRouter stream: keep-alive comment, role
// chunk, two content deltas, the finish chunk, the usage chunk that repeats
// finish_reason, and [DONE].
var typicalStream = []string{
	frameProcessing,
	event(chunk("")),
	frameProcessing,
	event(chunk("Rayleigh ")),
	event(chunk("scattering.")),
	frameFinish,
	frameUsage,
	frameDone,
}

// splitEvery cuts s into pieces of n bytes.
func splitEvery(s string, n int) []string {
	var out []string
	for len(s) > n {
		out = append(out, s[:n])
		s = s[n:]
	}
	return append(out, s)
}

func TestCompleteStream(t *testing.T) {
	t.Parallel()
	whole := strings.Join(typicalStream, "")
	wantUsage := provider.Usage{InputTokens: 12, OutputTokens: 3, Cost: 0.0000042}
	tests := []struct {
		name       string
		parts      []string
		wantDeltas []string
		wantFinish string
		wantUsage  provider.Usage
	}{
		{name: "typical", parts: typicalStream, wantFinish: "stop", wantUsage: wantUsage},
		{name: "crlf", parts: []string{strings.ReplaceAll(whole, "\n", "\r\n")}, wantFinish: "stop", wantUsage: wantUsage},
		{name: "split writes", parts: splitEvery(whole, 7), wantFinish: "stop", wantUsage: wantUsage},
		{name: "crlf split across writes", parts: splitEvery(strings.ReplaceAll(whole, "\n", "\r\n"), 5), wantFinish: "stop", wantUsage: wantUsage},
		{name: "one write", parts: []string{whole}, wantFinish: "stop", wantUsage: wantUsage},
		{name: "byte order mark and other fields", parts: append([]string{"\ufeffretry: 1000\nevent: message\nid: 1\n\n"}, typicalStream...), wantFinish: "stop", wantUsage: wantUsage},
		{name: "data without space", parts: []string{"data:" + chunk("Rayleigh ") + "\n\n", "data:" + chunk("scattering.") + "\n\n", "data:[DONE]\n\n"}},
		{name: "multi-line data event", parts: []string{"data: {\"choices\":[{\"delta\":\ndata: {\"content\":\"Rayleigh \"}}]}\n\n", event(chunk("scattering.")), frameDone}},
		{name: "finish without done", parts: []string{event(chunk("Rayleigh ")), event(chunk("scattering.")), frameFinish, frameUsage}, wantFinish: "stop", wantUsage: wantUsage},
		{name: "done without trailing blank line", parts: []string{event(chunk("Rayleigh ")), event(chunk("scattering.")), "data: [DONE]"}},
		{name: "last chunk without trailing newline", parts: []string{event(chunk("Rayleigh ")), "data: " + `{"choices":[{"delta":{"content":"scattering."},"finish_reason":"length"}]}`}, wantFinish: "length"},
		{name: "data after done is ignored", parts: append(append([]string(nil), typicalStream...), event(chunk("ignored"))), wantFinish: "stop", wantUsage: wantUsage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, sseHandler(tc.parts...))
			var deltas []string
			resp, err := c.Complete(context.Background(), userRequest(func(d string) { deltas = append(deltas, d) }))
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if diff := cmp.Diff([]string{"Rayleigh ", "scattering."}, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
			if resp.Content != "Rayleigh scattering." {
				t.Errorf("content = %q", resp.Content)
			}
			if resp.FinishReason != tc.wantFinish {
				t.Errorf("finish reason = %q, want %q", resp.FinishReason, tc.wantFinish)
			}
			if resp.Usage != tc.wantUsage {
				t.Errorf("usage = %+v, want %+v", resp.Usage, tc.wantUsage)
			}
		})
	}
}

func TestCompleteStreamIdentity(t *testing.T) {
	t.Parallel()
	c := newTestClient(t, sseHandler(typicalStream...))
	resp, err := c.Complete(context.Background(), userRequest(nil))
	if err != nil {
		t.Fatal(err)
	}
	if resp.ID != "gen-1" || resp.Model != "openai/gpt-4o-mini-2024-07-18" {
		t.Errorf("id, model = %q, %q", resp.ID, resp.Model)
	}
}

// TestCompleteStreamsProgressively checks that a delta reaches OnDelta
// while the server is still holding back the rest of the stream.
// Property 8: Progressive streaming.
func TestCompleteStreamsProgressively(t *testing.T) {
	t.Parallel()
	firstSeen := make(chan struct{})
	heldBack := make(chan bool, 1)
	c := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, event(chunk("first ")))
		w.(http.Flusher).Flush()
		select {
		case <-firstSeen:
			heldBack <- true
		case <-time.After(30 * time.Second):
			heldBack <- false
		}
		_, _ = io.WriteString(w, event(chunk("second"))+frameFinish+frameDone)
	})
	var deltas []string
	resp, err := c.Complete(context.Background(), userRequest(func(d string) {
		if len(deltas) == 0 {
			close(firstSeen)
		}
		deltas = append(deltas, d)
	}))
	if err != nil {
		t.Fatal(err)
	}
	if !<-heldBack {
		t.Error("the first delta was not delivered before the rest of the stream was sent")
	}
	if resp.Content != "first second" {
		t.Errorf("content = %q", resp.Content)
	}
}

func TestCompleteStreamFailures(t *testing.T) {
	t.Parallel()
	long := "data: " + `{"choices":[{"delta":{"content":"` + strings.Repeat("x", maxLineBytes) + `"}}]}` + "\n\n"
	tests := []struct {
		name         string
		parts        []string
		contentType  string
		noOnDelta    bool
		wantKind     provider.Kind
		wantStreamed bool
		wantRetry    time.Duration
		wantShared   provider.Quota
	}{
		{name: "error chunk first", parts: []string{frameProcessing, frameMidError}, wantKind: provider.KindUpstream},
		{name: "error chunk after content", parts: []string{event(chunk("Ray")), frameMidError}, wantKind: provider.KindUpstream, wantStreamed: true},
		{name: "error chunk after content without OnDelta", parts: []string{event(chunk("Ray")), frameMidError}, noOnDelta: true, wantKind: provider.KindUpstream},
		{name: "error chunk rate limited", parts: []string{event(`{"error":{"code":429,"message":"Rate limit exceeded","metadata":{"error_type":"rate_limit_exceeded","headers":{"retry-after":"7","x-ratelimit-remaining":"0"}}},"choices":[{"delta":{"content":""},"finish_reason":"error"}]}`)}, wantKind: provider.KindRateLimited, wantRetry: 7 * time.Second, wantShared: provider.Quota{Announced: true, Remaining: 0}},
		{name: "error chunk overloaded", parts: []string{event(chunk("a")), event(`{"error":{"code":"provider_error","message":"busy","metadata":{"error_type":"provider_overloaded"}},"choices":[{"delta":{},"finish_reason":"error"}]}`)}, wantKind: provider.KindOverloaded, wantStreamed: true},
		{name: "error chunk quota", parts: []string{event(`{"error":{"code":"insufficient_quota","message":"quota"}}`)}, wantKind: provider.KindQuota},
		{name: "error chunk timeout", parts: []string{event(`{"error":{"code":"timeout","message":"slow"}}`)}, wantKind: provider.KindTimeout},
		{name: "error as bare string", parts: []string{event(`{"error":"boom"}`)}, wantKind: provider.KindUpstream},
		{name: "finish reason error alone", parts: []string{event(chunk("a")), event(`{"choices":[{"delta":{"content":""},"finish_reason":"error"}]}`)}, wantKind: provider.KindUpstream, wantStreamed: true},
		{name: "truncated before content", parts: []string{frameProcessing}, wantKind: provider.KindNetwork},
		{name: "truncated after content", parts: []string{event(chunk("Ray")), event(chunk("leigh"))}, wantKind: provider.KindNetwork, wantStreamed: true},
		{name: "cut mid chunk", parts: []string{event(chunk("Ray")), `data: {"choices":[{"delta":{"cont`}, wantKind: provider.KindNetwork, wantStreamed: true},
		{name: "empty body", parts: nil, wantKind: provider.KindNetwork},
		{name: "malformed json", parts: []string{event(chunk("Ray")), event(`{"choices":[{"delta":{"content":"x"}}]`), frameDone}, wantKind: provider.KindMalformed, wantStreamed: true},
		{name: "not an object", parts: []string{event(`[1,2,3]`), frameDone}, wantKind: provider.KindMalformed},
		{name: "bare comment line passed as data", parts: []string{"data: : OPENROUTER PROCESSING\n\n"}, wantKind: provider.KindMalformed},
		{name: "line too long", parts: []string{long}, wantKind: provider.KindMalformed},
		{name: "event too long", parts: []string{strings.Repeat("data: "+strings.Repeat("y", 1000)+"\n", maxLineBytes/1000+1) + "\n"}, wantKind: provider.KindMalformed},
		{name: "html page", parts: []string{"<html><body>Bad gateway</body></html>\n"}, contentType: "text/html", wantKind: provider.KindMalformed},
		{name: "done without content", parts: []string{frameProcessing, event(chunk("")), frameFinish, frameUsage, frameDone}, wantKind: provider.KindEmpty},
		{name: "only done", parts: []string{frameDone}, wantKind: provider.KindEmpty},
		{name: "finish without content", parts: []string{frameFinish}, wantKind: provider.KindEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := sseHandler(tc.parts...)
			if tc.contentType != "" {
				h = rawHandler(http.StatusOK, tc.contentType, strings.Join(tc.parts, ""), nil)
			}
			c := newTestClient(t, h)
			var deltas []string
			onDelta := func(d string) { deltas = append(deltas, d) }
			if tc.noOnDelta {
				onDelta = nil
			}
			resp, err := c.Complete(context.Background(), userRequest(onDelta))
			if err == nil {
				t.Fatalf("Complete = %+v, want an error", resp)
			}
			pe := asProviderError(t, err)
			if pe.Kind != tc.wantKind || pe.Streamed != tc.wantStreamed {
				t.Errorf("kind = %v streamed = %v, want %v %v (err %v)", pe.Kind, pe.Streamed, tc.wantKind, tc.wantStreamed, pe.Err)
			}
			if pe.StatusCode != http.StatusOK {
				t.Errorf("status = %d, want 200", pe.StatusCode)
			}
			if pe.RetryAfter != tc.wantRetry {
				t.Errorf("retry after = %v, want %v", pe.RetryAfter, tc.wantRetry)
			}
			if pe.RateLimits.Shared != tc.wantShared {
				t.Errorf("shared quota = %+v, want %+v", pe.RateLimits.Shared, tc.wantShared)
			}
			if strings.Contains(pe.Error(), "disconnected") || strings.Contains(pe.Error(), "busy") {
				t.Errorf("upstream text leaked into the message: %q", pe.Error())
			}
		})
	}
}

func TestCompleteJSONBody(t *testing.T) {
	t.Parallel()
	const completionBody = `{"id":"gen-9","object":"chat.completion","model":"anthropic/claude-3.5-haiku","choices":[{"index":0,"message":{"role":"assistant","content":"Blue light scatters more."},"finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":5,"total_tokens":25,"cost":0.0001}}`
	tests := []struct {
		name        string
		contentType string
		body        string
		wantKind    provider.Kind
	}{
		{name: "application/json", contentType: "application/json", body: completionBody},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: completionBody},
		{name: "sniffed", contentType: "text/plain", body: "\n  " + completionBody},
		{name: "json labelled as event stream", contentType: "text/event-stream", body: completionBody},
		{name: "error json labelled as event stream", contentType: "text/event-stream", body: `{"error":{"code":503,"message":"down"}}`, wantKind: provider.KindOverloaded},
		{name: "error object with 200", contentType: "application/json", body: `{"error":{"code":502,"message":"upstream down","metadata":{"error_type":"provider_unavailable"}}}`, wantKind: provider.KindOverloaded},
		{name: "error object rate limited", contentType: "application/json", body: `{"error":{"code":429,"message":"slow"}}`, wantKind: provider.KindRateLimited},
		{name: "null content", contentType: "application/json", body: `{"choices":[{"message":{"role":"assistant","content":null},"finish_reason":"length"}]}`, wantKind: provider.KindEmpty},
		{name: "no choices", contentType: "application/json", body: `{"id":"x","choices":[]}`, wantKind: provider.KindEmpty},
		{name: "malformed", contentType: "application/json", body: `{"choices":[`, wantKind: provider.KindMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newTestClient(t, rawHandler(http.StatusOK, tc.contentType, tc.body, nil))
			var deltas []string
			resp, err := c.Complete(context.Background(), userRequest(func(d string) { deltas = append(deltas, d) }))
			if tc.wantKind != provider.KindUnknown {
				pe := asProviderError(t, err)
				if pe.Kind != tc.wantKind || pe.Streamed {
					t.Errorf("kind = %v streamed = %v, want %v false", pe.Kind, pe.Streamed, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			want := &provider.Response{
				ID: "gen-9", Model: "anthropic/claude-3.5-haiku", Content: "Blue light scatters more.", FinishReason: "stop",
				Usage: provider.Usage{InputTokens: 20, OutputTokens: 5, Cost: 0.0001},
			}
			resp.RateLimits = provider.RateLimits{} // the test server's Date
			if diff := cmp.Diff(want, resp); diff != "" {
				t.Errorf("response (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]string{"Blue light scatters more."}, deltas); diff != "" {
				t.Errorf("deltas (-want +got):\n%s", diff)
			}
		})
	}
}

// piecesReader returns one piece per Read and counts the bytes handed out.
type piecesReader struct {
	pieces []string
	read   int
}

func (r *piecesReader) Read(p []byte) (int, error) {
	for len(r.pieces) > 0 && r.pieces[0] == "" {
		r.pieces = r.pieces[1:]
	}
	if len(r.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.pieces[0])
	r.pieces[0] = r.pieces[0][n:]
	r.read += n
	return n, nil
}

// TestDecodeStreamProperty checks that for any content pieces, any line
// endings, any keep-alive comments and any split of the bytes into reads,
// the decoder passes exactly the non-empty pieces to OnDelta, in order, and
// each one before reading past the read that completed its event.
// Property 8: Progressive streaming.
func TestDecodeStreamProperty(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(t *rapid.T) {
		pieces := rapid.SliceOfN(rapid.String(), 0, 12).Draw(t, "pieces")
		eol := rapid.SampledFrom([]string{"\n", "\r\n"}).Draw(t, "eol")
		var stream strings.Builder
		var eventEnds []int
		var want []string
		for _, p := range pieces {
			if rapid.Bool().Draw(t, "comment") {
				stream.WriteString(": OPENROUTER PROCESSING" + eol + eol)
			}
			stream.WriteString("data: " + chunk(p) + eol + eol)
			if p != "" {
				want = append(want, p)
				eventEnds = append(eventEnds, stream.Len())
			}
		}
		stream.WriteString("data: [DONE]" + eol + eol)
		s := stream.String()
		var reads []string
		var readEnds []int
		for off := 0; off < len(s); {
			n := rapid.IntRange(1, 64).Draw(t, "read size")
			n = min(n, len(s)-off)
			reads = append(reads, s[off:off+n])
			off += n
			readEnds = append(readEnds, off)
		}
		r := &piecesReader{pieces: reads}
		var got []string
		res, pe := decodeStream(r, func(d string) {
			i := len(got)
			limit := len(s)
			for _, e := range readEnds {
				if e >= eventEnds[i] {
					limit = e
					break
				}
			}
			if r.read > limit {
				t.Fatalf("delta %d delivered after reading %d bytes; its event was complete at %d", i, r.read, limit)
			}
			got = append(got, d)
		}, func(err error) *provider.Error { return transportError(context.Background(), err) })
		if !slices.Equal(want, got) {
			t.Fatalf("deltas = %q, want %q", got, want)
		}
		if len(want) == 0 {
			if pe == nil || pe.Kind != provider.KindEmpty {
				t.Fatalf("no content: got %+v, %v; want empty", res, pe)
			}
			return
		}
		if pe != nil {
			t.Fatalf("decode: %v", pe)
		}
		if res.content != strings.Join(want, "") {
			t.Fatalf("content = %q, want %q", res.content, strings.Join(want, ""))
		}
	})
}

// TestDecodeBodyReadError checks that a failing reader is classified by the
// supplied function and marked streamed after content.
func TestDecodeBodyReadError(t *testing.T) {
	t.Parallel()
	body := io.MultiReader(strings.NewReader(event(chunk("a"))), &failingReader{})
	_, pe, _ := decodeBody(body, "text/event-stream", func(string) {}, func(err error) *provider.Error {
		return &provider.Error{Kind: provider.KindNetwork, Message: "read", Err: err}
	})
	if pe == nil || pe.Kind != provider.KindNetwork || !pe.Streamed {
		t.Fatalf("got %+v, want a streamed network error", pe)
	}
	_, pe, _ = decodeBody(&failingReader{}, "application/json", nil, func(err error) *provider.Error {
		return &provider.Error{Kind: provider.KindNetwork, Message: "read", Err: err}
	})
	if pe == nil || pe.Kind != provider.KindNetwork || pe.Streamed {
		t.Fatalf("got %+v, want an unstreamed network error", pe)
	}
}

type failingReader struct{}

func (*failingReader) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

// BenchmarkDecodeStream decodes a streamed answer of 200 one-word chunks,
// read a segment of one chunk at a time as from the network, with and
// without a delta callback (Stage 1 without streamed answers and Stage 2
// set none).
func BenchmarkDecodeStream(b *testing.B) {
	var body strings.Builder
	body.WriteString(frameProcessing)
	for i := range 200 {
		body.WriteString(event(chunk(fmt.Sprintf("word%d ", i))))
	}
	body.WriteString(frameFinish + frameUsage + frameDone)
	segments := strings.SplitAfter(body.String(), "\n\n")
	readErr := func(err error) *provider.Error {
		return &provider.Error{Kind: provider.KindNetwork, Message: "read", Err: err}
	}
	for _, tc := range []struct {
		name    string
		onDelta func(string)
	}{
		{"no callback", nil},
		{"callback", func(string) {}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(body.Len()))
			for b.Loop() {
				r := &segmentReader{segments: segments}
				if _, pe := decodeStream(r, tc.onDelta, readErr); pe != nil {
					b.Fatal(pe)
				}
			}
		})
	}
}

// segmentReader returns its segments one per Read, as a connection
// delivers the segments a server wrote.
type segmentReader struct {
	segments []string
	cur      string
}

func (r *segmentReader) Read(p []byte) (int, error) {
	if r.cur == "" {
		if len(r.segments) == 0 {
			return 0, io.EOF
		}
		r.cur, r.segments = r.segments[0], r.segments[1:]
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}
