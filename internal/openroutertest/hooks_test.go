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
	mu      sync.Mutex
	answers []openroutertest.Answer
}

func (l *answerLog) hook(a openroutertest.Answer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, a)
}

func (l *answerLog) snapshot() []openroutertest.Answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]openroutertest.Answer(nil), l.answers...)
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
				answers := log.snapshot()
				if !tc.want {
					if len(answers) != 0 {
						t.Fatalf("hook called %d times for an answer cut short", len(answers))
					}
					return
				}
				if len(answers) != 1 {
					t.Fatalf("hook called %d times, want once", len(answers))
				}
				a := answers[0]
				if a.Request.Model != "m/hooked" || a.Request.Stream != stream || a.Request.N != 1 {
					t.Errorf("hook got request %+v", a.Request)
				}
				if a.Started.Before(sent) || a.LastByte.Before(a.Started) || a.LastByte.After(read) {
					t.Errorf("started at %v, last byte at %v, outside the request's lifetime [%v, %v]", a.Started, a.LastByte, sent, read)
				}
				if a.Latency != tc.b.Latency {
					t.Errorf("latency %v, want the behavior's %v", a.Latency, tc.b.Latency)
				}
				if due := a.Started.Add(a.Latency); a.LastByte.Before(due) {
					t.Errorf("last byte %v before it was due at %v", a.LastByte.Sub(a.Started), a.Latency)
				}
				if late := a.LastByte.Sub(a.Started) - a.Latency; a.Late() != late {
					t.Errorf("Late() = %v, want %v", a.Late(), late)
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
	eventually(t, "the answer hook", func() bool { return len(log.snapshot()) == 1 })
}

func TestAnswerLateCountsOnlyTheLagPastTheDueTime(t *testing.T) {
	started := time.Unix(1000, 0)
	for _, tc := range []struct{ after, latency, want time.Duration }{
		{after: 15 * time.Millisecond, latency: 10 * time.Millisecond, want: 5 * time.Millisecond},
		{after: 10 * time.Millisecond, latency: 10 * time.Millisecond, want: 0},
		{after: 5 * time.Millisecond, latency: 10 * time.Millisecond, want: 0},
		{after: time.Second, want: time.Second},
	} {
		a := openroutertest.Answer{Started: started, LastByte: started.Add(tc.after), Latency: tc.latency}
		if got := a.Late(); got != tc.want {
			t.Errorf("last byte after %v, latency %v: Late() = %v, want %v", tc.after, tc.latency, got, tc.want)
		}
	}
}
