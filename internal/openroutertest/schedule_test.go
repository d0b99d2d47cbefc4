package openroutertest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/councilhq/council/internal/openroutertest"
)

// flushCounter counts the flushes of the response it wraps.
type flushCounter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (f flushCounter) Flush() {
	f.n.Add(1)
	f.ResponseWriter.(http.Flusher).Flush()
}

// streamFlushes streams one answer of the given behavior through the fake's
// handler and returns how many times the handler flushed and the content.
func streamFlushes(t *testing.T, b openroutertest.Behavior) (int64, string) {
	t.Helper()
	s := start(t, openroutertest.WithDefault(b))
	var flushes atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.Handler().ServeHTTP(flushCounter{w, &flushes}, r)
	}))
	defer front.Close()
	req, err := http.NewRequest(http.MethodPost, front.URL+"/api/v1/chat/completions", strings.NewReader(body("m/scheduled", question, true)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Key())
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var content strings.Builder
	for _, d := range parseSSE(t, raw).data {
		if c := decode(t, d); len(c.Choices) > 0 && c.Choices[0].Delta != nil {
			content.WriteString(c.Choices[0].Delta.Content)
		}
	}
	return flushes.Load(), content.String()
}

func TestStreamSendsWhatIsDueTogether(t *testing.T) {
	const chunks = 20
	answer := strings.Repeat("word ", chunks)
	// With no latency every piece is due at once: they go out together.
	flushes, got := streamFlushes(t, openroutertest.Behavior{Content: answer, Chunks: chunks})
	if got != answer {
		t.Fatalf("content %q, want %q", got, answer)
	}
	if flushes > 5 {
		t.Errorf("%d flushes for %d pieces all due at once, want a few", flushes, chunks)
	}
	// Spread over a second, each piece is due about 50 ms after the last:
	// each goes out on its own, unless the machine holds the fake back
	// that long.
	flushes, got = streamFlushes(t, openroutertest.Behavior{Content: answer, Chunks: chunks, Latency: time.Second})
	if got != answer {
		t.Fatalf("content %q, want %q", got, answer)
	}
	if flushes < chunks*3/4 {
		t.Errorf("%d flushes for %d pieces 50 ms apart, want about one each", flushes, chunks)
	}
}
