package deploy

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// compose is the part of a Compose file the test reads.
type compose struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		} `yaml:"build"`
		DependsOn   []string          `yaml:"depends_on"`
		Environment map[string]string `yaml:"environment"`
		Ports       []string          `yaml:"ports"`
		Healthcheck struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

// published returns the container ports a service publishes, each checked
// to be bound to loopback on the same host port.
func published(t *testing.T, service string, ports []string) []string {
	t.Helper()
	var out []string
	for _, p := range ports {
		m := regexp.MustCompile(`^127\.0\.0\.1:(\d+):(\d+)$`).FindStringSubmatch(p)
		if m == nil || m[1] != m[2] {
			t.Errorf("%s publishes %q; want 127.0.0.1:PORT:PORT", service, p)
			continue
		}
		out = append(out, m[2])
	}
	return out
}

// The compose file runs Jaeger's official image and councild built from
// the Dockerfile, councild exporting its traces to Jaeger's OTLP port.
// (No container runtime here: the file is checked, not run.)
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c compose
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	jaeger, ok := c.Services["jaeger"]
	if !ok {
		t.Fatal("no jaeger service")
	}
	if !regexp.MustCompile(`^(cr\.jaegertracing\.io/)?jaegertracing/jaeger:2\.\d+\.\d+$`).MatchString(jaeger.Image) {
		t.Errorf("jaeger image %q: want Jaeger's official all-in-one image with a pinned 2.x version", jaeger.Image)
	}
	if got := published(t, "jaeger", jaeger.Ports); !slices.Contains(got, "16686") || !slices.Contains(got, "4317") {
		t.Errorf("jaeger publishes %v; want the UI (16686) and OTLP gRPC (4317)", got)
	}

	councild, ok := c.Services["councild"]
	if !ok {
		t.Fatal("no councild service")
	}
	if councild.Build == nil || councild.Build.Context != ".." || councild.Build.Dockerfile != "Dockerfile" {
		t.Errorf("councild build = %+v; want the repository's Dockerfile", councild.Build)
	}
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	env := councild.Environment
	if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://jaeger:4317" || env["OTEL_SERVICE_NAME"] == "" {
		t.Errorf("councild environment %v; want OTLP to http://jaeger:4317 and a service name", env)
	}
	if env["OTEL_METRICS_EXPORTER"] != "prometheus" {
		t.Errorf("OTEL_METRICS_EXPORTER = %q; want prometheus, so metrics are not sent to Jaeger", env["OTEL_METRICS_EXPORTER"])
	}
	if !slices.Contains(councild.DependsOn, "jaeger") {
		t.Errorf("councild depends on %v; want jaeger", councild.DependsOn)
	}
	// councild listens where the Dockerfile says, and compose publishes it.
	ports := published(t, "councild", councild.Ports)
	for _, want := range []string{"50051", "9464"} {
		if !slices.Contains(ports, want) || !strings.Contains(string(dockerfile), "0.0.0.0:"+want) {
			t.Errorf("port %s: published %v; the Dockerfile must listen on 0.0.0.0:%s", want, ports, want)
		}
	}
	// The health check runs councilctl, which the image holds (it has no shell).
	hc := councild.Healthcheck.Test
	if len(hc) < 2 || hc[0] != "CMD" || hc[1] != "/usr/local/bin/councilctl" || !slices.Contains(hc, "health") ||
		!strings.Contains(string(dockerfile), "/out/councilctl /usr/local/bin/") {
		t.Errorf("healthcheck %v; want councilctl health from the image", hc)
	}
}
