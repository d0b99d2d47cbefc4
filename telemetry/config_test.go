package telemetry

import (
	"fmt"
	"slices"
	"testing"
)

func TestSettingsFromEnv(t *testing.T) {
	t.Parallel()
	const ep = "http://127.0.0.1:4317"
	tests := []struct {
		name            string
		env             map[string]string
		traces, metrics signal
	}{
		{name: "nothing set is off"},
		{
			name:    "one endpoint for both signals, gRPC by default",
			env:     map[string]string{EnvEndpoint: ep},
			traces:  signal{on: true, grpcDefault: true},
			metrics: signal{on: true, grpcDefault: true},
		},
		{
			name:   "per-signal endpoint",
			env:    map[string]string{EnvTracesEndpoint: ep},
			traces: signal{on: true, grpcDefault: true},
		},
		{
			name:    "http/protobuf for both",
			env:     map[string]string{EnvEndpoint: ep, EnvProtocol: "http/protobuf"},
			traces:  signal{on: true},
			metrics: signal{on: true},
		},
		{
			name:    "a protocol for one signal",
			env:     map[string]string{EnvEndpoint: ep, EnvMetricsProtocol: "http/protobuf"},
			traces:  signal{on: true, grpcDefault: true},
			metrics: signal{on: true},
		},
		{
			name:    "metrics off",
			env:     map[string]string{EnvEndpoint: ep, EnvMetricsExporter: "none"},
			traces:  signal{on: true, grpcDefault: true},
			metrics: signal{},
		},
		{
			name:    "prometheus metrics are the admin port's",
			env:     map[string]string{EnvEndpoint: ep, EnvMetricsExporter: "prometheus"},
			traces:  signal{on: true, grpcDefault: true},
			metrics: signal{},
		},
		{
			name:    "traces off",
			env:     map[string]string{EnvEndpoint: ep, EnvTracesExporter: "none"},
			traces:  signal{},
			metrics: signal{on: true, grpcDefault: true},
		},
		{
			name:   "a named exporter needs no endpoint",
			env:    map[string]string{EnvTracesExporter: "console"},
			traces: signal{on: true},
		},
		{
			name: "sdk disabled",
			env:  map[string]string{EnvEndpoint: ep, EnvSDKDisabled: "true"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := settingsFromEnv(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatalf("settingsFromEnv: %v", err)
			}
			if got.traces != tc.traces || got.metrics != tc.metrics {
				t.Errorf("traces %+v, metrics %+v; want %+v, %+v", got.traces, got.metrics, tc.traces, tc.metrics)
			}
		})
	}
}

func TestSettingsFromEnvPropagators(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env    string
		fields []string
	}{
		{"", []string{"baggage", "traceparent", "tracestate"}},
		{"tracecontext", []string{"traceparent", "tracestate"}},
		{"b3, baggage", []string{"b3", "baggage"}},
		{"none", nil},
	} {
		s, err := settingsFromEnv(func(k string) string { return map[string]string{EnvPropagators: tc.env}[k] })
		if err != nil {
			t.Fatalf("%s=%q: %v", EnvPropagators, tc.env, err)
		}
		fields := s.propagator.Fields()
		slices.Sort(fields)
		if !slices.Equal(fields, tc.fields) {
			t.Errorf("%s=%q: fields %v, want %v", EnvPropagators, tc.env, fields, tc.fields)
		}
	}
}

func TestSettingsFromEnvRejectsMalformedValues(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{EnvSDKDisabled: "maybe"},
		{EnvPropagators: "tracecontext,smoke-signals"},
	} {
		t.Run(fmt.Sprint(env), func(t *testing.T) {
			t.Parallel()
			if _, err := settingsFromEnv(func(k string) string { return env[k] }); err == nil {
				t.Errorf("settingsFromEnv accepted %v", env)
			}
		})
	}
}
