package orchestrator

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBuiltinTiersAreTheShippedFile(t *testing.T) {
	data, err := os.ReadFile("tiers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseTiers(data)
	if err != nil {
		t.Fatalf("tiers.yaml: %v", err)
	}
	got := Tiers()
	if len(got) != len(TierNames) || len(parsed) != len(got) {
		t.Fatalf("Tiers() = %d tiers, tiers.yaml %d, want %d", len(got), len(parsed), len(TierNames))
	}
	for i := range got {
		if got[i].Name != parsed[i].Name || !slices.Equal(got[i].Council, parsed[i].Council) || got[i].Chairman != parsed[i].Chairman {
			t.Errorf("tier %d = %+v, tiers.yaml has %+v", i, got[i], parsed[i])
		}
		if i > 0 && got[i].ExpectedLatency < got[i-1].ExpectedLatency {
			t.Errorf("tiers not fastest first: %s before %s", got[i-1].Name, got[i].Name)
		}
	}
	// The ids of 2024 are gone, and Gemini Flash is spelt one way.
	for _, tier := range got {
		for _, m := range append(slices.Clone(tier.Council), tier.Chairman) {
			for _, stale := range []string{"gpt-3.5-turbo", "claude-3-haiku", "gemini-1.5-flash", "gemini-flash-1.5"} {
				if strings.HasSuffix(m, "/"+stale) {
					t.Errorf("tier %s names the stale model %s", tier.Name, m)
				}
			}
		}
	}
	// Tiers returns copies.
	got[0].Council[0] = "changed"
	if Tiers()[0].Council[0] == "changed" {
		t.Error("Tiers() shares its slices")
	}
}

func TestParseTiersJSON(t *testing.T) {
	const file = `{"tiers": [
		{"name": "cost", "council": ["a/1", "a/2"], "chairman": "a/3", "expected_latency": "30s"},
		{"name": "Speed", "council": ["b/1", "b/2", "b/3"], "chairman": "b/1", "expected_latency": "1.5s"},
		{"name": "balanced", "council": ["c/1", "c/2"], "chairman": "c/9", "expected_latency": "1m"}
	]}`
	got, err := ParseTiers([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tier{
		{Name: "speed", Council: []string{"b/1", "b/2", "b/3"}, Chairman: "b/1", ExpectedLatency: 1500 * time.Millisecond},
		{Name: "cost", Council: []string{"a/1", "a/2"}, Chairman: "a/3", ExpectedLatency: 30 * time.Second},
		{Name: "balanced", Council: []string{"c/1", "c/2"}, Chairman: "c/9", ExpectedLatency: time.Minute},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d tiers, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Council, want[i].Council) || got[i].Chairman != want[i].Chairman || got[i].ExpectedLatency != want[i].ExpectedLatency {
			t.Errorf("tier %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestParseTiersErrors(t *testing.T) {
	const good = `
  - name: speed
    council: [a/1, a/2]
    chairman: a/1
    expected_latency: 1s
  - name: balanced
    council: [a/1, a/2]
    chairman: a/1
    expected_latency: 2s
`
	cases := []struct {
		name, file string
		want       []string
	}{
		{"empty", "", []string{"empty tier file"}},
		{"not yaml", "tiers: [", []string{"yaml"}},
		{"unknown field", "tiers:\n  - name: cost\n    councl: [a/1]\n", []string{"councl"}},
		{"missing tier", "tiers:" + good, []string{`tier "cost" is missing`}},
		{"unknown tier", "tiers:" + good + "  - name: fastest\n    council: [a/1, a/2]\n    chairman: a/1\n    expected_latency: 1s\n",
			[]string{`tier "fastest": unknown tier`, `tier "cost" is missing`}},
		{"twice", "tiers:" + good + good + "  - name: cost\n    council: [a/1, a/2]\n    chairman: a/1\n    expected_latency: 1s\n",
			[]string{`tier "speed": defined twice`, `tier "balanced": defined twice`}},
		{"bad tier", "tiers:" + good + "  - name: cost\n    council: [a/1, ' ', a/1]\n    expected_latency: soon\n",
			[]string{`tier "cost": council[1] is empty`, `council[2]: a/1 is named twice`, `tier "cost": no chairman`, `expected_latency "soon"`}},
		{"small council", "tiers:" + good + "  - name: cost\n    council: [a/1]\n    chairman: a/1\n    expected_latency: 1s\n",
			[]string{`tier "cost": council: a council needs at least 2 models, got 1`}},
		{"no name", "tiers:" + good + "  - council: [a/1, a/2]\n", []string{"tiers[2]: no name"}},
		{"negative latency", "tiers:" + good + "  - name: cost\n    council: [a/1, a/2]\n    chairman: a/1\n    expected_latency: -1s\n",
			[]string{`tier "cost": expected_latency "-1s"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTiers([]byte(tc.file))
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

func TestCouncilUsesConfiguredTiers(t *testing.T) {
	tiers := []Tier{
		{Name: "speed", Council: []string{"m/a", "m/b"}, Chairman: "m/chair", ExpectedLatency: time.Second},
		{Name: "balanced", Council: []string{"m/c", "m/d"}, Chairman: "m/a", ExpectedLatency: 2 * time.Second},
	}
	c, err := New(newScripted(), Config{Tiers: tiers, Tier: " Speed "})
	if err != nil {
		t.Fatal(err)
	}
	tiers[0].Council[0] = "m/changed" // the council keeps its own copy
	for _, tc := range []struct{ tier, council, chairman string }{
		{"", "m/a,m/b", "m/chair"},
		{"balanced", "m/c,m/d", "m/a"},
	} {
		evs, err := consult(c, context.Background(), Request{Query: "q", Tier: tc.tier})
		if err != nil {
			t.Fatal(err)
		}
		started := evs[0].Payload.(*ConsultStarted)
		if strings.Join(started.Council, ",") != tc.council || started.Chairman != tc.chairman {
			t.Errorf("tier %q: started with %v and %s, want %s and %s", tc.tier, started.Council, started.Chairman, tc.council, tc.chairman)
		}
	}
	_, err = consult(c, context.Background(), Request{Query: "q", Tier: "cost"})
	var inv *InvalidRequestError
	if !errors.As(err, &inv) || inv.Field != "tier" || !strings.Contains(inv.Reason, "want speed, balanced") {
		t.Errorf("unknown tier: %v", err)
	}
	if _, err := New(newScripted(), Config{Tiers: tiers, Tier: "cost"}); err == nil {
		t.Error("New accepted a default tier the tiers lack")
	}
}
