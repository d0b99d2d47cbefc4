package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The recorded trace of testdata/jaeger-trace.json: its trace id, the
// consultation id its spans carry.
const (
	fixtureTraceID        = "4bf92f3577b34da6a3ce929d0e0e4736"
	fixtureConsultationID = "1dad0cf6a3e24c1b9d6f0e2b7c4a5d88"
)

// fakeJaeger serves Jaeger's query API with one trace: by trace id at
// /api/traces/{id}, and to a search by service and consultation id tag at
// /api/traces. It records the searches.
type fakeJaeger struct {
	*httptest.Server
	body []byte

	mu       sync.Mutex
	searches []map[string][]string
}

func newFakeJaeger(t *testing.T) *fakeJaeger {
	t.Helper()
	body, err := os.ReadFile("testdata/jaeger-trace.json")
	if err != nil {
		t.Fatal(err)
	}
	j := &fakeJaeger{body: body}
	notFound := func(w http.ResponseWriter) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"data":null,"total":0,"limit":0,"offset":0,"errors":[{"code":404,"msg":"trace not found"}]}`))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/traces/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != fixtureTraceID {
			notFound(w)
			return
		}
		_, _ = w.Write(body)
	})
	mux.HandleFunc("GET /api/traces", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		j.mu.Lock()
		j.searches = append(j.searches, q)
		j.mu.Unlock()
		var tags map[string]string
		if q.Get("service") != "councild" {
			notFound(w) // Jaeger has not seen the service
			return
		}
		if json.Unmarshal([]byte(q.Get("tags")), &tags) != nil || tags[consultationIDTag] != fixtureConsultationID {
			_, _ = w.Write([]byte(`{"data":[],"total":0,"limit":0,"offset":0,"errors":null}`))
			return
		}
		_, _ = w.Write(body)
	})
	j.Server = httptest.NewServer(mux)
	t.Cleanup(j.Close)
	return j
}

func (j *fakeJaeger) lastSearch() map[string][]string {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.searches) == 0 {
		return nil
	}
	return j.searches[len(j.searches)-1]
}

// rowOf returns the waterfall's line of the span named name under a line
// starting with parent (the stage), or fails.
func rowOf(t *testing.T, out, parent, name string) string {
	t.Helper()
	in := parent == ""
	for _, l := range strings.Split(out, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		if strings.HasPrefix(trimmed, parent) && parent != "" {
			in = true
			continue
		}
		if in && strings.HasPrefix(trimmed, name+" ") {
			return l
		}
	}
	t.Fatalf("no line for %q under %q in:\n%s", name, parent, out)
	return ""
}

// barOf returns the bar of a waterfall line: the marks between the label
// and the duration.
func barOf(line string) string {
	return strings.Trim(regexp.MustCompile(`^\s*\S+(?: \S+)?\s{2,}`).ReplaceAllString(line, ""), " ")
}

func TestTraceByTraceID(t *testing.T) {
	j := newFakeJaeger(t)
	out, stderr, err := ctlWith(t, stdio{}, nil, "trace", fixtureTraceID, "--jaeger", j.URL, "--width", "140")
	if err != nil {
		t.Fatalf("trace: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", out)
	if len(j.searches) != 0 {
		t.Errorf("searched %v for a trace id Jaeger has", j.searches)
	}
	for _, want := range []string{
		"trace " + fixtureTraceID, "consultation " + fixtureConsultationID, "service councild",
		"2.4s, 12 spans", "|0s", "|500ms", "|1s", "|2s",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}

	// Spans as a tree: root, then each stage (by start time) followed by
	// its calls (by start time), indented under it.
	var order []string
	for _, l := range strings.Split(out, "\n") {
		if m := regexp.MustCompile(`^( *)(council\.\S+|chat \S+)`).FindStringSubmatch(l); m != nil {
			order = append(order, strconv.Itoa(len(m[1])/2)+":"+m[2])
		}
	}
	want := []string{
		"0:council.v1.Council/Consult",
		"1:council.collect",
		"2:chat openai/gpt-5-mini", "2:chat anthropic/claude-haiku-4.5", "2:chat google/gemini-2.5-flash", "2:chat mistralai/mistral-medium-3.1",
		"1:council.review",
		"2:chat openai/gpt-5-mini", "2:chat anthropic/claude-haiku-4.5", "2:chat google/gemini-2.5-flash",
		"1:council.synthesize",
		"2:chat anthropic/claude-haiku-4.5",
	}
	if strings.Join(order, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(order, "\n"), strings.Join(want, "\n"))
	}

	// The marks: a clean call is all █, a retried one has an R in its
	// bar, a wait is ░ then the call, a timeout is ▒ throughout, a
	// cooldown skip is C.
	clean := rowOf(t, out, "council.collect", "chat openai/gpt-5-mini")
	if b := barOf(clean); !regexp.MustCompile(`^█+ +700ms$`).MatchString(b) {
		t.Errorf("clean call's bar %q", b)
	}
	retried := rowOf(t, out, "council.collect", "chat anthropic/claude-haiku-4.5")
	if !regexp.MustCompile(`█+R█+ +1\.15s  2 attempts; retry after RATE_LIMITED$`).MatchString(retried) {
		t.Errorf("retried call: %q", retried)
	}
	waited := rowOf(t, out, "council.collect", "chat google/gemini-2.5-flash")
	if !regexp.MustCompile(`░+█+ +900ms  waited 450ms \(budget\)$`).MatchString(waited) {
		t.Errorf("waiting call: %q", waited)
	}
	failed := rowOf(t, out, "council.collect", "chat mistralai/mistral-medium-3.1")
	if !regexp.MustCompile(`▒+ +1\.3s  failed: TIMEOUT$`).MatchString(failed) || strings.Contains(failed, "█") {
		t.Errorf("failed call: %q", failed)
	}
	cooled := rowOf(t, out, "council.review", "chat anthropic/claude-haiku-4.5")
	if !strings.Contains(cooled, "C") || !strings.HasSuffix(cooled, "skipped: cooling down; failed: COOLDOWN") {
		t.Errorf("cooled-down call: %q", cooled)
	}

	// One time axis: the synthesis starts where the review ends, at about
	// 1.91 s of 2.4 s, so its bar starts about 80 % along.
	root := rowOf(t, "\n"+out, "", "council.v1.Council/Consult")
	synth := rowOf(t, out, "council.review", "council.synthesize")
	start0 := runeIndex(root, '█', false)
	end0 := runeIndex(root, '█', true)
	startS := runeIndex(synth, '█', false)
	if frac := float64(startS-start0) / float64(end0-start0); frac < 0.75 || frac > 0.85 {
		t.Errorf("synthesis starts %.2f along the axis, want about 0.8:\n%s\n%s", frac, root, synth)
	}
	// No colour unless on a terminal.
	if strings.Contains(out, "\x1b[") {
		t.Error("colour off a terminal")
	}
}

func TestTraceByConsultationID(t *testing.T) {
	j := newFakeJaeger(t)
	before := time.Now()
	out, stderr, err := ctlWith(t, stdio{}, map[string]string{"COUNCIL_JAEGER_URL": j.URL},
		"trace", fixtureConsultationID, "--lookback", "2h")
	if err != nil {
		t.Fatalf("trace: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "trace "+fixtureTraceID) || !strings.Contains(out, "chat mistralai/mistral-medium-3.1") {
		t.Errorf("output:\n%s", out)
	}
	q := j.lastSearch()
	start, _ := strconv.ParseInt(first(q["start"]), 10, 64)
	end, _ := strconv.ParseInt(first(q["end"]), 10, 64)
	if first(q["service"]) != "councild" || first(q["limit"]) != "1" ||
		time.Duration(end-start)*time.Microsecond != 2*time.Hour || end < before.UnixMicro() {
		t.Errorf("search %v", q)
	}
}

// runeIndex is the index in runes of the first (or last) r in s, or -1.
func runeIndex(s string, r rune, last bool) int {
	at := -1
	for i, c := range []rune(s) {
		if c == r {
			at = i
			if !last {
				break
			}
		}
	}
	return at
}

func first(xs []string) string {
	if len(xs) == 0 {
		return ""
	}
	return xs[0]
}

func TestTraceJSON(t *testing.T) {
	j := newFakeJaeger(t)
	out, _, err := ctlWith(t, stdio{}, nil, "trace", fixtureTraceID, "--jaeger", j.URL, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var tr jaegerTrace
	if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.TraceID != fixtureTraceID || len(tr.Spans) != 12 {
		t.Errorf("--json: %v, %d spans:\n%.300s", err, len(tr.Spans), out)
	}
	if !strings.Contains(out, `"warnings"`) {
		t.Error("--json does not print Jaeger's JSON as it came")
	}
}

func TestTraceColour(t *testing.T) {
	j := newFakeJaeger(t)
	out, _, err := ctlWith(t, stdio{outTTY: true}, nil, "trace", fixtureTraceID, "--jaeger", j.URL)
	if err != nil {
		t.Fatal(err)
	}
	failed := rowOf(t, out, "council.collect", "chat mistralai/mistral-medium-3.1")
	if !strings.Contains(failed, ansiRed+"▒"+ansiReset) || !strings.Contains(failed, ansiRed+"failed: TIMEOUT") {
		t.Errorf("a failure is not red on a terminal: %q", failed)
	}
	out, _, _ = ctlWith(t, stdio{outTTY: true}, map[string]string{"NO_COLOR": "1"}, "trace", fixtureTraceID, "--jaeger", j.URL)
	if strings.Contains(out, "\x1b[") {
		t.Error("colour with NO_COLOR set")
	}
}

func TestTraceFailures(t *testing.T) {
	j := newFakeJaeger(t)
	down := httptest.NewServer(http.NotFoundHandler())
	downURL := down.URL
	down.Close()
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "storage down", http.StatusInternalServerError)
	}))
	defer broken.Close()
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"unknown id", []string{"trace", "0123456789abcdef0123456789abcdef", "--jaeger", j.URL}, exitFailure,
			`no trace with id 0123456789abcdef0123456789abcdef, and none of service "councild" in the last 24h0m0s with council.consultation_id=0123456789abcdef0123456789abcdef`},
		{"unknown service", []string{"trace", fixtureConsultationID, "--jaeger", j.URL, "--service", "other"}, exitFailure, `none of service "other"`},
		{"jaeger down", []string{"trace", fixtureTraceID, "--jaeger", downURL}, exitUnavailable, "Jaeger at " + downURL},
		{"jaeger failing", []string{"trace", fixtureTraceID, "--jaeger", broken.URL}, exitUnavailable, "answered 500 Internal Server Error"},
		{"no id", []string{"trace", "--jaeger", j.URL}, exitUsage, "one trace id or consultation id"},
		{"two ids", []string{"trace", "a", "b"}, exitUsage, "one trace id"},
		{"bad url", []string{"trace", "a", "--jaeger", "localhost:16686"}, exitUsage, "want an http:// or https:// URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ctlWith(t, stdio{}, nil, tc.args...)
			if err == nil || exitCode(err) != tc.code || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v (exit %d), want exit %d mentioning %q", err, exitCode(err), tc.code, tc.want)
			}
		})
	}
}

func TestTickStepAndDurations(t *testing.T) {
	for _, tc := range []struct {
		total int64
		barW  int
		want  int64
	}{
		{2_400_000, 80, 500_000},
		{2_400_000, 40, 1_000_000},
		{900, 60, 200},
		{45_000_000, 100, 10_000_000},
	} {
		if got := tickStep(tc.total, tc.barW); got != tc.want {
			t.Errorf("tickStep(%d, %d) = %d, want %d", tc.total, tc.barW, got, tc.want)
		}
	}
	for us, want := range map[int64]string{0: "0s", 850: "850µs", 1_250: "1.3ms", 12_345: "12ms", 1_150_000: "1.15s", 90_000_000: "1m30s"} {
		if got := fmtMicros(us); got != want {
			t.Errorf("fmtMicros(%d) = %q, want %q", us, got, want)
		}
	}
}
