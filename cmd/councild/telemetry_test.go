package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	councilv1 "github.com/councilhq/council/gen/council/v1"
)

var adminLine = regexp.MustCompile(`msg="admin listening" addr=(\S+)`)

func TestRunServesStatsAndMetrics(t *testing.T) {
	conn, logs := startRun(t, map[string]string{envSimScale: "0.01", envAdminAddr: "127.0.0.1:0"})
	consultAll(t, conn, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})

	stats, err := councilv1.NewCouncilClient(conn).GetStats(context.Background(), &councilv1.GetStatsRequest{})
	if err != nil {
		t.Fatalf("GetStats: %v", err)
	}
	if stats.GetConsultations() != 1 || stats.GetTotal().GetCount() != 1 || len(stats.GetStages()) != 3 || len(stats.GetModels()) == 0 {
		t.Errorf("GetStats = %v, want one consultation with stage and model series", stats)
	}
	for _, want := range []string{`msg="council tier" tier=balanced`, `msg="consultation finished"`, "stages.collect=", "models.collect."} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	m := adminLine.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no admin listening line:\n%s", logs)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{"gen_ai_client_operation_duration_seconds_count", "council_stage_duration_seconds_count", "rpc_server_", "council_build_info{"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestRunServesPprofOnlyWhenAsked(t *testing.T) {
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(t *testing.T, url string) (int, string) {
		t.Helper()
		resp, err := client.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode, string(body)
	}
	paths := []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		on   bool
	}{
		{"default", map[string]string{envSimScale: "0.01", envAdminAddr: "127.0.0.1:0"}, false},
		{"off", map[string]string{envSimScale: "0.01", envAdminAddr: "127.0.0.1:0", envPprof: "false"}, false},
		{"on", map[string]string{envSimScale: "0.01", envAdminAddr: "127.0.0.1:0", envPprof: "true"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, logs := startRun(t, tc.env)
			m := adminLine.FindStringSubmatch(logs.String())
			if m == nil {
				t.Fatalf("no admin listening line:\n%s", logs)
			}
			for _, p := range paths {
				code, body := get(t, "http://"+m[1]+p)
				if tc.on && (code != http.StatusOK || body == "") {
					t.Errorf("GET %s = %d with pprof on, want 200 and a profile", p, code)
				}
				if !tc.on && code != http.StatusNotFound {
					t.Errorf("GET %s = %d with pprof off, want 404", p, code)
				}
			}
			if code, _ := get(t, "http://"+m[1]+"/metrics"); code != http.StatusOK {
				t.Errorf("GET /metrics = %d", code)
			}
		})
	}
}

func TestPprofNeedsAdminAddr(t *testing.T) {
	_, err := loadConfig(nil, envOf(map[string]string{envPprof: "true"}), io.Discard)
	if err == nil || !strings.Contains(err.Error(), envPprof) || !strings.Contains(err.Error(), envAdminAddr) {
		t.Errorf("loadConfig error = %v, want one naming %s and %s", err, envPprof, envAdminAddr)
	}
}
