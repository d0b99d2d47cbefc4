package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	councilv1 "github.com/councilhq/council/gen/council/v1"
	"github.com/councilhq/council/provider/sim"
)

// writeFile writes data to a new file named name in a temporary directory
// and returns its path.
func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// tiersJSON is a tier file in JSON naming models the simulator serves.
const tiersJSON = `{"tiers": [
  {"name": "speed", "council": ["openai/gpt-4.1-nano", "google/gemini-2.5-flash-lite"], "chairman": "openai/gpt-4.1-nano", "expected_latency": "5s"},
  {"name": "balanced", "council": ["openai/gpt-5-nano", "meta-llama/llama-4-scout", "google/gemini-2.5-flash"], "chairman": "openai/gpt-5-nano", "expected_latency": "9s"},
  {"name": "cost", "council": ["meta-llama/llama-4-scout", "openai/gpt-5-nano"], "chairman": "meta-llama/llama-4-scout", "expected_latency": "20s"}
]}`

func TestLoadConfigTiersFile(t *testing.T) {
	yamlFile := writeFile(t, "tiers.yaml", `tiers:
  - {name: speed, council: [s/1, s/2], chairman: s/3, expected_latency: 1s}
  - {name: balanced, council: [b/1, b/2], chairman: b/3, expected_latency: 2s}
  - {name: cost, council: [c/1, c/2], chairman: c/3, expected_latency: 3s}
`)
	jsonFile := writeFile(t, "tiers.json", tiersJSON)
	for _, tc := range []struct {
		name     string
		args     []string
		env      map[string]string
		balanced []string
	}{
		{"yaml from the variable", nil, map[string]string{envTiersFile: yamlFile}, []string{"b/1", "b/2"}},
		{"json from the flag", []string{"-tiers-file", jsonFile}, map[string]string{envTiersFile: yamlFile},
			[]string{"openai/gpt-5-nano", "meta-llama/llama-4-scout", "google/gemini-2.5-flash"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadConfig(tc.args, envOf(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.council.Tiers) != 3 || c.council.Tier != "balanced" {
				t.Fatalf("tiers %+v, default %q", c.council.Tiers, c.council.Tier)
			}
			for _, tier := range c.council.Tiers {
				if tier.Name == "balanced" && !slices.Equal(tier.Council, tc.balanced) {
					t.Errorf("balanced council %v, want %v", tier.Council, tc.balanced)
				}
			}
		})
	}

	bad := writeFile(t, "bad.yaml", "tiers:\n  - {name: speed, council: [a], chairman: a, expected_latency: 1s}\n")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"invalid, from the variable", nil, map[string]string{envTiersFile: bad},
			[]string{envTiersFile + "=" + bad, `tier "speed": council`, `tier "cost" is missing`}},
		{"invalid, from the flag", []string{"-tiers-file", bad}, nil, []string{"-tiers-file=" + bad}},
		{"missing", nil, map[string]string{envTiersFile: bad + ".gone"}, []string{envTiersFile + "=" + bad + ".gone", "no such file"}},
		{"not a tier file", nil, map[string]string{envTiersFile: writeFile(t, "x.json", `{"models": []}`)}, []string{envTiersFile, `field models not found`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.args, envOf(tc.env), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

// councild serves the tiers of its tier file: ListTiers lists them and a
// consultation without a tier gets the default one's council.
func TestRunServesTheTiersFile(t *testing.T) {
	for _, m := range []string{"openai/gpt-4.1-nano", "google/gemini-2.5-flash-lite", "openai/gpt-5-nano", "meta-llama/llama-4-scout"} {
		if !slices.Contains(sim.Models(), m) {
			t.Fatalf("the simulator does not serve %s", m)
		}
	}
	conn, _ := startRun(t, map[string]string{envTiersFile: writeFile(t, "tiers.json", tiersJSON), envSimScale: "0.01"})
	resp, err := councilv1.NewCouncilClient(conn).ListTiers(context.Background(), &councilv1.ListTiersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tier := range resp.GetTiers() {
		got = append(got, tier.GetTier().String()+"="+strings.Join(tier.GetCouncilModels(), ",")+"/"+tier.GetChairmanModel()+"/"+tier.GetExpectedLatency().AsDuration().String())
	}
	want := []string{
		"TIER_SPEED=openai/gpt-4.1-nano,google/gemini-2.5-flash-lite/openai/gpt-4.1-nano/5s",
		"TIER_BALANCED=openai/gpt-5-nano,meta-llama/llama-4-scout,google/gemini-2.5-flash/openai/gpt-5-nano/9s",
		"TIER_COST=meta-llama/llama-4-scout,openai/gpt-5-nano/meta-llama/llama-4-scout/20s",
	}
	if !slices.Equal(got, want) {
		t.Errorf("ListTiers:\n got %q\nwant %q", got, want)
	}
	evs := consultAll(t, conn, &councilv1.ConsultRequest{Query: "Why is the sky blue?"})
	started := evs[0].GetConsultStarted()
	if strings.Join(started.GetCouncilModels(), ",") != "openai/gpt-5-nano,meta-llama/llama-4-scout,google/gemini-2.5-flash" || started.GetChairmanModel() != "openai/gpt-5-nano" {
		t.Errorf("started = %v", started)
	}
}
