package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scraper reads councild's Prometheus metrics.
type scraper struct {
	url    string
	client *http.Client
}

func newScraper(url string) *scraper {
	// No keep-alive: an idle connection would hold goroutines in councild
	// when they are counted.
	return &scraper{url: url, client: &http.Client{
		Transport: &http.Transport{DisableKeepAlives: true},
		Timeout:   30 * time.Second,
	}}
}

func (s *scraper) close() { s.client.CloseIdleConnections() }

// metrics is one scrape: metric families by name.
type metrics map[string]*dto.MetricFamily

// scrape reads the metrics.
func (s *scraper) scrape(ctx context.Context) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", s.url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// gauge returns the value of a gauge without labels, such as go_goroutines.
func (m metrics) gauge(name string) int {
	f := m[name]
	if f == nil || len(f.GetMetric()) == 0 {
		return -1
	}
	return int(f.GetMetric()[0].GetGauge().GetValue())
}

// counters sums the counter whose name starts with prefix (exporters add
// unit and _total suffixes) by the value of label, "" for all.
func (m metrics) counters(prefix, label string) map[string]int64 {
	out := map[string]int64{}
	for name, f := range m {
		if !strings.HasPrefix(name, prefix) || f.GetType() != dto.MetricType_COUNTER {
			continue
		}
		for _, mt := range f.GetMetric() {
			key := ""
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == label {
					key = lp.GetValue()
				}
			}
			out[key] += int64(mt.GetCounter().GetValue())
		}
	}
	return out
}
