// Package deploy holds councild's deployment files: the Helm chart under
// helm/councild, the FROM scratch image definition and compose.yaml (councild
// with Jaeger). Its tests render the chart with the helm pinned in
// tools/helm/go.mod and check the manifests, and check the compose file.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// chart is the chart's directory.
const chart = "helm/councild"

// helm runs the pinned helm with args and returns its standard output.
func helm(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"tool", "-modfile=../tools/helm/go.mod", "helm"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// render renders the chart with the given --set values and returns its
// objects by kind.
func render(t *testing.T, set ...string) map[string]map[string]any {
	t.Helper()
	args := []string{"template", "council", chart, "--namespace", "ai"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	dec := yaml.NewDecoder(strings.NewReader(helm(t, args...)))
	objects := map[string]map[string]any{}
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatal(err)
		}
		if obj != nil {
			objects[obj["kind"].(string)] = obj
		}
	}
}

// at walks obj along path: map keys, or ints for list indexes.
func at(t *testing.T, obj any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := obj.(map[string]any)
			if !ok {
				t.Fatalf("no %q in %v (path %v)", k, obj, path)
			}
			obj = m[k]
		case int:
			l, ok := obj.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("no [%d] in %v (path %v)", k, obj, path)
			}
			obj = l[k]
		}
	}
	return obj
}

func TestChartLints(t *testing.T) {
	if out := helm(t, "lint", "--strict", chart); !strings.Contains(out, "0 chart(s) failed") {
		t.Errorf("helm lint:\n%s", out)
	}
}

func TestDeploymentProbesDrainAndSecret(t *testing.T) {
	objs := render(t, "replicaCount=3")
	d := objs["Deployment"]
	if d == nil {
		t.Fatalf("no Deployment in %v", objs)
	}
	if got := at(t, d, "spec", "replicas"); got != 3 {
		t.Errorf("replicas = %v, want 3", got)
	}
	pod := at(t, d, "spec", "template", "spec")
	c := at(t, pod, "containers", 0)
	if at(t, c, "readinessProbe", "grpc", "port") != 50051 || at(t, c, "readinessProbe", "grpc", "service") != "council.v1.Council" {
		t.Errorf("readinessProbe = %v, want gRPC health of council.v1.Council on 50051", at(t, c, "readinessProbe"))
	}
	if at(t, c, "livenessProbe", "grpc", "port") != 50051 || at(t, c, "startupProbe", "grpc", "port") != 50051 {
		t.Errorf("livenessProbe %v, startupProbe %v: want gRPC health on 50051", at(t, c, "livenessProbe"), at(t, c, "startupProbe"))
	}
	preStop, _ := at(t, c, "lifecycle", "preStop", "sleep", "seconds").(int)
	grace, _ := at(t, pod, "terminationGracePeriodSeconds").(int)
	if preStop <= 0 || grace < preStop+20 {
		t.Errorf("preStop sleep %ds, grace period %ds: want a preStop delay and room for it and the 20 s drain", preStop, grace)
	}
	if at(t, pod, "securityContext", "runAsNonRoot") != true || at(t, c, "securityContext", "readOnlyRootFilesystem") != true ||
		at(t, c, "securityContext", "allowPrivilegeEscalation") != false {
		t.Errorf("securityContext: pod %v, container %v", at(t, pod, "securityContext"), at(t, c, "securityContext"))
	}
	if at(t, c, "resources", "requests", "cpu") == nil || at(t, c, "resources", "limits", "memory") == nil {
		t.Errorf("resources = %v", at(t, c, "resources"))
	}
	env := map[string]any{}
	for _, e := range at(t, c, "env").([]any) {
		env[at(t, e, "name").(string)] = e
	}
	if at(t, env["OPENROUTER_API_KEY"], "valueFrom", "secretKeyRef", "name") != "councild-openrouter" || at(t, env["OPENROUTER_API_KEY"], "value") != nil {
		t.Errorf("OPENROUTER_API_KEY = %v, want it from the Secret only", env["OPENROUTER_API_KEY"])
	}
	if _, ok := env["COUNCIL_REDIS_URL"]; ok {
		t.Errorf("COUNCIL_REDIS_URL set without redis.url")
	}

	s := objs["Service"]
	if at(t, s, "spec", "clusterIP") != "None" {
		t.Errorf("Service clusterIP = %v, want None (headless)", at(t, s, "spec", "clusterIP"))
	}
	ports := map[any]any{}
	for _, p := range at(t, s, "spec", "ports").([]any) {
		ports[at(t, p, "name")] = at(t, p, "port")
	}
	if ports["grpc"] != 50051 || ports["metrics"] != 9464 {
		t.Errorf("Service ports = %v, want grpc 50051 and metrics 9464", ports)
	}
}

func TestChartOptions(t *testing.T) {
	objs := render(t, "provider=sim", "redis.url=redis://redis:6379/0")
	env := map[string]any{}
	for _, e := range at(t, objs["Deployment"], "spec", "template", "spec", "containers", 0, "env").([]any) {
		env[at(t, e, "name").(string)] = at(t, e, "value")
	}
	if _, ok := env["OPENROUTER_API_KEY"]; ok {
		t.Errorf("the simulator gets an API key: %v", env)
	}
	if env["COUNCIL_REDIS_URL"] != "redis://redis:6379/0" || env["COUNCIL_PROVIDER"] != "sim" {
		t.Errorf("env = %v", env)
	}
}

func TestChartTiersFile(t *testing.T) {
	if _, ok := render(t)["ConfigMap"]; ok {
		t.Error("a tiers ConfigMap without tiersFile")
	}
	tiers, err := os.ReadFile("../orchestrator/tiers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	checkFileValue(t, "tiersFile", "tiers.yaml", "COUNCIL_TIERS_FILE", "council/tiers-checksum", string(tiers))
}

func TestChartBudgetsFile(t *testing.T) {
	budgets := "default: {usd: 5, period: day}\ncallers:\n  token-1: {usd: 200, period: month}\n"
	checkFileValue(t, "budgetsFile", "budgets.yaml", "COUNCIL_BUDGETS_FILE", "council/budgets-checksum", budgets)
}

// checkFileValue renders the chart with the chart value set to content and
// checks that the content lands in a ConfigMap under key, mounted into the
// container, named by the variable env, and that the pods carry the
// checksum annotation that rolls them when the content changes.
func checkFileValue(t *testing.T, value, key, env, checksum, content string) {
	t.Helper()
	objs := render(t, value+"="+strings.ReplaceAll(content, ",", `\,`))
	cm := objs["ConfigMap"]
	if got := at(t, cm, "data", key); strings.TrimSpace(got.(string)) != strings.TrimSpace(content) {
		t.Errorf("ConfigMap holds:\n%v", got)
	}
	pod := at(t, objs["Deployment"], "spec", "template", "spec")
	vars := map[string]any{}
	for _, e := range at(t, pod, "containers", 0, "env").([]any) {
		vars[at(t, e, "name").(string)] = at(t, e, "value")
	}
	mount := at(t, pod, "containers", 0, "volumeMounts", 0)
	volume := at(t, pod, "volumes", 0)
	if vars[env] != at(t, mount, "mountPath").(string)+"/"+key ||
		at(t, mount, "name") != at(t, volume, "name") || at(t, volume, "configMap", "name") != at(t, cm, "metadata", "name") {
		t.Errorf("%s %v, mount %v, volume %v", env, vars[env], mount, volume)
	}
	if at(t, objs["Deployment"], "spec", "template", "metadata", "annotations", checksum) == nil {
		t.Error("no checksum annotation to roll the pods")
	}
}
