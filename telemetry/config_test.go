package telemetry

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestConfigFromEnv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		sampler string
	}{
		{name: "nothing set is off", env: nil, want: Config{}, sampler: "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}"},
		{
			name: "one endpoint for both signals",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":                        "http://127.0.0.1:4317",
				"OTEL_SERVICE_NAME":                                  "councild-test",
				"OTEL_RESOURCE_ATTRIBUTES":                           "deployment.environment=dev, team=llm%20ops",
				"OTEL_EXPORTER_OTLP_HEADERS":                         "x-tenant=a",
				"OTEL_METRIC_EXPORT_INTERVAL":                        "5000",
				"OTEL_TRACES_SAMPLER":                                "traceidratio",
				"OTEL_TRACES_SAMPLER_ARG":                            "0.25",
				"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true",
			},
			want: Config{
				ServiceName:        "councild-test",
				ResourceAttributes: map[string]string{"deployment.environment": "dev", "team": "llm ops"},
				TracesEndpoint:     "http://127.0.0.1:4317",
				MetricsEndpoint:    "http://127.0.0.1:4317",
				Headers:            map[string]string{"x-tenant": "a"},
				MetricInterval:     5 * time.Second,
				CaptureContent:     true,
			},
			sampler: "TraceIDRatioBased{0.25}",
		},
		{
			name: "per-signal endpoints and exporters",
			env: map[string]string{
				"OTEL_EXPORTER_OTLP_ENDPOINT":         "http://collector:4317",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT":  "http://jaeger:4317",
				"OTEL_METRICS_EXPORTER":               "none",
				"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://ignored:4317",
				"OTEL_TRACES_SAMPLER":                 "always_off",
			},
			want:    Config{TracesEndpoint: "http://jaeger:4317"},
			sampler: "AlwaysOffSampler",
		},
		{
			name:    "traces off",
			env:     map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example:4317", "OTEL_TRACES_EXPORTER": "none"},
			want:    Config{MetricsEndpoint: "https://otel.example:4317"},
			sampler: "ParentBased{root:AlwaysOnSampler,remoteParentSampled:AlwaysOnSampler,remoteParentNotSampled:AlwaysOffSampler,localParentSampled:AlwaysOnSampler,localParentNotSampled:AlwaysOffSampler}",
		},
		{
			name: "sdk disabled",
			env:  map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_SDK_DISABLED": "true"},
			want: Config{},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := ConfigFromEnv(func(k string) string { return tc.env[k] })
			if err != nil {
				t.Fatalf("ConfigFromEnv: %v", err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Config{}, "Sampler"), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
			if tc.sampler != "" && (got.Sampler == nil || got.Sampler.Description() != tc.sampler) {
				t.Errorf("sampler = %v, want %s", got.Sampler, tc.sampler)
			}
		})
	}
}

func TestConfigFromEnvRejectsMalformedValues(t *testing.T) {
	t.Parallel()
	for _, env := range []map[string]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT": "127.0.0.1:4317"},
		{"OTEL_TRACES_SAMPLER": "sometimes"},
		{"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"},
		{"OTEL_METRIC_EXPORT_INTERVAL": "-5"},
		{"OTEL_RESOURCE_ATTRIBUTES": "novalue"},
		{"OTEL_TRACES_EXPORTER": "zipkin"},
		{"OTEL_SDK_DISABLED": "maybe"},
		{"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "yes please"},
	} {
		t.Run(fmt.Sprint(env), func(t *testing.T) {
			t.Parallel()
			if _, err := ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
				t.Errorf("ConfigFromEnv accepted %v", env)
			}
		})
	}
}
