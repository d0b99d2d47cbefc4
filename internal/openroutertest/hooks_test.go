package openroutertest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/councilhq/council/internal/openroutertest"
)

// answerLog collects what an answer hook is told.
type answerLog struct {
	mu    sync.Mutex
	reqs  []openroutertest.Request
	times []time.Time
}

func (l *answerLog) hook(req openroutertest.Request, lastByte time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reqs = append(l.reqs, req)
	l.times = append(l.times, lastByte)
}

func (l *answerLog) snapshot() ([]openroutertest.Request, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]openroutertest.Request(nil), l.reqs...), append([]time.Time(nil), l.times...)
}

func TestAnswerHookSeesEveryCompleteAnswer(t *testing.T) {
	cases := []struct {
		name string
		b    openroutertest.Behavior
		want bool
	}{
		{name: "normal", want: true},
		{name: "chunked with latency", b: openroutertest.Behavior{Latency: 20 * time.Millisecond, TTFT: 5 * time.Millisecond, Chunks: 4}, want: true},
		{name: "trickle", b: openroutertest.Behavior{Fault: openroutertest.FaultTrickle, Chunks: 3, Latency: 10 * time.Millisecond}, want: true},
		{name: "empty content", b: openroutertest.Behavior{Fault: openroutertest.FaultEmptyContent}, want: true},
		{name: "status", b: openroutertest.Behavior{Fault: openroutertest.FaultStatus, Status: 503}},
		{name: "mid-stream error", b: openroutertest.Behavior{Fault: openroutertest.FaultMidStreamError}},
		{name: "truncate", b: openroutertest.Behavior{Fault: openroutertest.FaultTruncate}},
	}
	for _, tc := range cases {
		for _, stream := range []bool{false, true} {
			t.Run(tc.name+" stream="+strconv.FormatBool(stream), func(t *testing.T) {
				var log answerLog
				s := start(t, openroutertest.WithDefault(tc.b), openroutertest.WithAnswerHook(log.hook))
				sent := time.Now()
				ctx, cancel := context.WithTimeout(context.Background(), patience)
				defer cancel()
				resp, err := post(ctx, t, s, body("m/hooked", question, stream))
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body) // a cut answer fails here
				resp.Body.Close()
				read := time.Now()
				// The handler calls the hook before it returns.
				eventually(t, "the handler to return", func() bool { return s.InFlight() == 0 })
				reqs, times := log.snapshot()
				if !tc.want {
					if len(reqs) != 0 {
						t.Fatalf("hook called %d times for an answer cut short", len(reqs))
					}
					return
				}
				if len(reqs) != 1 {
					t.Fatalf("hook called %d times, want once", len(reqs))
				}
				if reqs[0].Model != "m/hooked" || reqs[0].Stream != stream || reqs[0].N != 1 {
					t.Errorf("hook got request %+v", reqs[0])
				}
				if times[0].Before(sent) || times[0].After(read) {
					t.Errorf("last byte at %v, outside the request's lifetime [%v, %v]", times[0], sent, read)
				}
			})
		}
	}
}

func TestWithoutRecordingKeepsCountingOnly(t *testing.T) {
	s := start(t, openroutertest.WithoutRecording())
	for i := range 3 {
		mustPost(t, s, body("m/"+strconv.Itoa(i%2), question, i%2 == 0))
	}
	if got := s.Recorded(); got != nil {
		t.Errorf("Recorded() = %d requests, want nil", len(got))
	}
	if s.Requests() != 3 || s.RequestsFor("m/0") != 2 || s.RequestsFor("m/1") != 1 {
		t.Errorf("counters: %d requests, m/0 %d, m/1 %d", s.Requests(), s.RequestsFor("m/0"), s.RequestsFor("m/1"))
	}
}

func TestHandlerServesTheSameFake(t *testing.T) {
	var log answerLog
	s := start(t, openroutertest.WithAnswerHook(log.hook), openroutertest.WithBehavior("m/elsewhere", openroutertest.Behavior{Content: "from the handler"}))
	other := httptest.NewServer(s.Handler())
	defer other.Close()
	req, err := http.NewRequest(http.MethodPost, other.URL+"/api/v1/chat/completions", strings.NewReader(body("m/elsewhere", question, false)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.Key())
	resp, err := other.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, %v", resp.StatusCode, err)
	}
	if c := decode(t, string(raw)); c.Choices[0].Message.Content != "from the handler" {
		t.Errorf("content %q", c.Choices[0].Message.Content)
	}
	if s.Requests() != 1 || s.RequestsFor("m/elsewhere") != 1 {
		t.Errorf("the fake counted %d requests", s.Requests())
	}
	eventually(t, "the answer hook", func() bool { r, _ := log.snapshot(); return len(r) == 1 })
}
