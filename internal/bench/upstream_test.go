package bench_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"testing"
	"time"

	"github.com/councilhq/council/internal/bench"
	"github.com/councilhq/council/provider"
	"github.com/councilhq/council/provider/openrouter"
)

func TestUpstreamRecordsLastBytesPerConsultation(t *testing.T) {
	p := bench.Profile{
		Council:  []bench.Model{{ID: "m/a", Latency: 5 * time.Millisecond}},
		Chairman: bench.Model{ID: "m/chair"},
		Content:  "an answer",
	}
	for _, secure := range []bool{false, true} {
		t.Run(map[bool]string{false: "http/1.1", true: "https h2"}[secure], func(t *testing.T) {
			u, err := bench.StartUpstream(p, secure)
			if err != nil {
				t.Fatal(err)
			}
			defer u.Close()
			transport := openrouter.NewTransport()
			defer transport.CloseIdleConnections()
			if pem := u.CertPEM(); secure != (pem != nil) {
				t.Fatalf("secure %v, certificate %q", secure, pem)
			} else if secure {
				roots := x509.NewCertPool()
				roots.AppendCertsFromPEM(pem)
				transport.TLSClientConfig = &tls.Config{RootCAs: roots}
			}
			hc := &http.Client{Transport: transport}
			client, err := openrouter.New(hc, openrouter.Config{BaseURL: u.URL(), APIKey: u.Key()})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), patience)
			defer cancel()
			call := func(tag, model string) time.Time {
				resp, err := client.Complete(ctx, &provider.Request{Model: model, Messages: []provider.Message{{Role: provider.RoleUser, Content: bench.Question(tag)}}})
				if err != nil || resp.Content != "an answer" {
					t.Fatalf("call: %+v, %v", resp, err)
				}
				return time.Now()
			}
			began := time.Now()
			first := call("t-1", "m/a")
			second := call("t-1", "m/a")
			call("t-2", "m/chair")
			// A call returns at [DONE]; its handler may still be finishing.
			for u.InFlight() > 0 && ctx.Err() == nil {
				time.Sleep(time.Millisecond)
			}
			got := u.Take("t-1", []string{"m/a", "m/chair"})
			if len(got) != 1 || len(got["m/a"]) != 2 {
				t.Fatalf("Take = %v, want two times for m/a", got)
			}
			if es := got["m/a"]; es[0].At.Before(began) || es[0].At.After(first) || es[1].At.Before(first) || es[1].At.After(second) {
				t.Errorf("last bytes at %v, outside the calls", es)
			}
			for _, e := range got["m/a"] {
				if e.Late < 0 || e.Late > e.At.Sub(began) {
					t.Errorf("an answer ending %v after the first call began was %v late", e.At.Sub(began), e.Late)
				}
			}
			if again := u.Take("t-1", []string{"m/a"}); len(again) != 0 {
				t.Errorf("Take did not forget: %v", again)
			}
			u.SetRecording(false)
			call("t-3", "m/a")
			if got := u.Take("t-3", []string{"m/a"}); len(got) != 0 {
				t.Errorf("recorded while off: %v", got)
			}
			if u.Requests() != 4 || u.Connections() < 1 {
				t.Errorf("%d requests, %d connections", u.Requests(), u.Connections())
			}

			// A secure upstream speaks HTTP/2, as OpenRouter does.
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.URL()+"/models", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+u.Key())
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if want := map[bool]int{false: 1, true: 2}[secure]; resp.ProtoMajor != want {
				t.Errorf("HTTP/%d, want HTTP/%d", resp.ProtoMajor, want)
			}
		})
	}
}
