package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Defaults of the trace command.
const (
	defaultJaegerURL = "http://127.0.0.1:16686"
	defaultService   = "councild"
	defaultLookback  = 24 * time.Hour
	defaultWidth     = 120
)

// consultationIDTag is the span attribute that carries the consultation id
// (telemetry.AttrConsultationID).
const consultationIDTag = "council.consultation_id"

// hexID matches a trace id as Jaeger takes it: 16 or 32 hex digits.
var hexID = regexp.MustCompile(`^(?:[0-9a-fA-F]{16}|[0-9a-fA-F]{32})$`)

// traceCmd fetches a consultation's trace from Jaeger's query API and
// draws it as a waterfall. ID is a trace id (32 hex digits, as councild's
// x-trace-id header gives it) or a consultation id; a trace id is looked up
// first, then the id is searched as the council.consultation_id tag of the
// service's traces over the lookback.
func traceCmd(ctx context.Context, args []string, std stdio, getenv func(string) string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(std.errOut)
	jaegerURL := defaultJaegerURL
	if v := strings.TrimSpace(getenv("COUNCIL_JAEGER_URL")); v != "" {
		jaegerURL = v
	}
	base := fs.String("jaeger", jaegerURL, "Jaeger query service's base URL (COUNCIL_JAEGER_URL)")
	service := fs.String("service", defaultService, "service name the consultation id is searched under (councild's OTEL_SERVICE_NAME)")
	lookback := fs.Duration("lookback", defaultLookback, "how far back the consultation id is searched")
	width := fs.Int("width", termWidth(getenv), "width of the drawing in columns (default: COLUMNS, else 120)")
	asJSON := fs.Bool("json", false, "print the trace as Jaeger's JSON instead of drawing it")
	timeout := fs.Duration("timeout", 30*time.Second, "time limit of the requests to Jaeger")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badUsage("trace needs one trace id or consultation id")
	}
	if *lookback <= 0 || *timeout <= 0 {
		return badUsage("--lookback and --timeout must be positive")
	}
	u, err := url.Parse(strings.TrimSpace(*base))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return badUsage("--jaeger %q: want an http:// or https:// URL", *base)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	q := jaegerQuery{base: u, client: http.DefaultClient}
	tr, raw, err := q.find(ctx, strings.TrimSpace(pos[0]), *service, *lookback, time.Now())
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := fmt.Fprintln(std.out, string(raw))
		return err
	}
	w := waterfall{width: max(*width, 60), color: colorOK(std.outTTY, getenv)}
	return w.draw(std.out, tr)
}

// termWidth is the terminal's width from COLUMNS, else defaultWidth.
func termWidth(getenv func(string) string) int {
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return defaultWidth
}

// The subset of Jaeger's query API (/api/traces) the trace command reads.
type (
	jaegerResponse struct {
		Data   []json.RawMessage `json:"data"`
		Errors []struct {
			Code int    `json:"code"`
			Msg  string `json:"msg"`
		} `json:"errors"`
	}
	jaegerTrace struct {
		TraceID   string                   `json:"traceID"`
		Spans     []jaegerSpan             `json:"spans"`
		Processes map[string]jaegerProcess `json:"processes"`
	}
	jaegerProcess struct {
		ServiceName string `json:"serviceName"`
	}
	jaegerSpan struct {
		SpanID        string `json:"spanID"`
		OperationName string `json:"operationName"`
		References    []struct {
			RefType string `json:"refType"`
			SpanID  string `json:"spanID"`
		} `json:"references"`
		// StartTime is in microseconds since the epoch, Duration in
		// microseconds.
		StartTime int64       `json:"startTime"`
		Duration  int64       `json:"duration"`
		Tags      []jaegerTag `json:"tags"`
		Logs      []jaegerLog `json:"logs"`
		ProcessID string      `json:"processID"`
	}
	jaegerLog struct {
		Timestamp int64       `json:"timestamp"`
		Fields    []jaegerTag `json:"fields"`
	}
	jaegerTag struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	}
)

// tag returns the value of the tag key as text, and whether there is one.
func tag(tags []jaegerTag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			switch v := t.Value.(type) {
			case string:
				return v, true
			case float64:
				return strconv.FormatFloat(v, 'f', -1, 64), true
			default:
				return fmt.Sprint(v), true
			}
		}
	}
	return "", false
}

// jaegerQuery asks a Jaeger query service for traces.
type jaegerQuery struct {
	base   *url.URL
	client *http.Client
}

// errTraceNotFound is a trace neither fetched by id nor found by tag.
var errTraceNotFound = errors.New("trace not found")

// find returns the trace of id, as parsed and as Jaeger's JSON: the trace
// with that trace id, else the latest trace of service over the lookback
// that has a span tagged with it as the consultation id.
func (q jaegerQuery) find(ctx context.Context, id, service string, lookback time.Duration, now time.Time) (jaegerTrace, []byte, error) {
	if hexID.MatchString(id) {
		tr, raw, err := q.get(ctx, "/api/traces/"+strings.ToLower(id), nil)
		if err == nil {
			return tr, raw, nil
		}
		if !errors.Is(err, errTraceNotFound) {
			return jaegerTrace{}, nil, err
		}
	}
	tags, err := json.Marshal(map[string]string{consultationIDTag: id})
	if err != nil {
		return jaegerTrace{}, nil, err
	}
	params := url.Values{
		"service": {service},
		"tags":    {string(tags)},
		"start":   {strconv.FormatInt(now.Add(-lookback).UnixMicro(), 10)},
		"end":     {strconv.FormatInt(now.UnixMicro(), 10)},
		"limit":   {"1"},
	}
	tr, raw, err := q.get(ctx, "/api/traces", params)
	if errors.Is(err, errTraceNotFound) {
		return jaegerTrace{}, nil, fmt.Errorf("%w: no trace with id %s, and none of service %q in the last %v with %s=%s, in Jaeger at %s",
			errTraceNotFound, id, service, lookback, consultationIDTag, id, q.base.Redacted())
	}
	return tr, raw, err
}

// get fetches path with params and returns the first trace of the answer
// and its JSON. A 404 or an empty answer is errTraceNotFound; Jaeger not
// answering, or answering with an error, is an UNAVAILABLE status error.
func (q jaegerQuery) get(ctx context.Context, path string, params url.Values) (jaegerTrace, []byte, error) {
	u := q.base.JoinPath(path)
	u.RawQuery = params.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return jaegerTrace{}, nil, err
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return jaegerTrace{}, nil, unavailable("Jaeger at %s: %v", q.base.Redacted(), err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return jaegerTrace{}, nil, unavailable("Jaeger at %s: %v", q.base.Redacted(), err)
	}
	if resp.StatusCode == http.StatusNotFound {
		return jaegerTrace{}, nil, errTraceNotFound
	}
	if resp.StatusCode != http.StatusOK {
		return jaegerTrace{}, nil, unavailable("Jaeger at %s answered %s to GET %s", q.base.Redacted(), resp.Status, u.Path)
	}
	var r jaegerResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return jaegerTrace{}, nil, unavailable("Jaeger at %s: GET %s: not a trace answer: %v", q.base.Redacted(), u.Path, err)
	}
	if len(r.Data) == 0 {
		return jaegerTrace{}, nil, errTraceNotFound
	}
	var tr jaegerTrace
	if err := json.Unmarshal(r.Data[0], &tr); err != nil {
		return jaegerTrace{}, nil, unavailable("Jaeger at %s: GET %s: not a trace: %v", q.base.Redacted(), u.Path, err)
	}
	if len(tr.Spans) == 0 {
		return jaegerTrace{}, nil, errTraceNotFound
	}
	var raw bytes.Buffer
	if err := json.Indent(&raw, r.Data[0], "", "  "); err != nil {
		return jaegerTrace{}, nil, err
	}
	return tr, raw.Bytes(), nil
}

// unavailable is an error that exits like an UNAVAILABLE call.
func unavailable(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	return &statusError{st: status.New(codes.Unavailable, msg), msg: msg}
}
