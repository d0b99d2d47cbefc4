package orchestrator

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Tier is a named preset of council models and chairman with the latency
// and cost it is expected to deliver.
type Tier struct {
	// Name is the tier's name: "speed", "balanced" or "cost".
	Name string
	// Council lists the council models, in order.
	Council []string
	// Chairman is the model that writes the final answer.
	Chairman string
	// ExpectedLatency is the end-to-end latency the tier promises.
	ExpectedLatency time.Duration
	// CostPerQuery is the expected cost of one consultation in US dollars;
	// zero when not priced (tier files do not set it, see
	// [Council.TierCost]).
	CostPerQuery float64
}

// DefaultTierName is the tier used when none is chosen.
const DefaultTierName = "balanced"

// TierNames are the names of the tiers a tier file defines, one each: the
// tiers the API can name.
var TierNames = []string{"speed", "balanced", "cost"}

// builtinTiersFile is the shipped tier file, tiers.yaml.
//
//go:embed tiers.yaml
var builtinTiersFile []byte

// builtinTiers are the tiers of tiers.yaml, fastest first.
var builtinTiers = mustParseTiers(builtinTiersFile)

func mustParseTiers(data []byte) []Tier {
	t, err := ParseTiers(data)
	if err != nil {
		panic("orchestrator: the built-in tiers.yaml: " + err.Error())
	}
	return t
}

// Tiers returns the built-in tiers (the shipped tiers.yaml), ordered by
// expected latency (fastest first). The result is a copy the caller may
// modify.
func Tiers() []Tier { return cloneTiers(builtinTiers) }

// LookupTier returns the built-in tier with the given name
// (case-insensitive, surrounding spaces ignored) and whether it exists.
func LookupTier(name string) (Tier, bool) { return FindTier(builtinTiers, name) }

// FindTier returns the tier of tiers with the given name (case-insensitive,
// surrounding spaces ignored) and whether there is one. The result is a
// copy the caller may modify.
func FindTier(tiers []Tier, name string) (Tier, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, t := range tiers {
		if t.Name == name {
			return t.clone(), true
		}
	}
	return Tier{}, false
}

// tierFile is the shape of a tier file.
type tierFile struct {
	Tiers []struct {
		Name            string   `yaml:"name"`
		Council         []string `yaml:"council"`
		Chairman        string   `yaml:"chairman"`
		ExpectedLatency string   `yaml:"expected_latency"`
	} `yaml:"tiers"`
}

// ParseTiers reads a tier file, YAML or JSON (see tiers.yaml, the built-in
// one): a list "tiers" holding each of [TierNames] once, each with a
// council of two or more distinct model ids, a chairman and a positive
// expected_latency (a Go duration such as 12s). Unknown fields are errors.
// The tiers are returned fastest first. Errors name the tier and the field.
func ParseTiers(data []byte) ([]Tier, error) {
	var f tierFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty tier file")
		}
		return nil, err
	}
	var (
		out  []Tier
		errs []error
	)
	seen := map[string]bool{}
	for i, ft := range f.Tiers {
		name := strings.ToLower(strings.TrimSpace(ft.Name))
		where := fmt.Sprintf("tiers[%d]", i)
		if name != "" {
			where = fmt.Sprintf("tier %q", name)
		}
		switch {
		case name == "":
			errs = append(errs, fmt.Errorf("%s: no name", where))
			continue
		case !slices.Contains(TierNames, name):
			errs = append(errs, fmt.Errorf("%s: unknown tier (want %s)", where, strings.Join(TierNames, ", ")))
			continue
		case seen[name]:
			errs = append(errs, fmt.Errorf("%s: defined twice", where))
			continue
		}
		seen[name] = true
		t := Tier{Name: name, Chairman: strings.TrimSpace(ft.Chairman)}
		models := map[string]bool{}
		for j, m := range ft.Council {
			m = strings.TrimSpace(m)
			switch {
			case m == "":
				errs = append(errs, fmt.Errorf("%s: council[%d] is empty", where, j))
			case models[m]:
				errs = append(errs, fmt.Errorf("%s: council[%d]: %s is named twice", where, j, m))
			default:
				models[m] = true
				t.Council = append(t.Council, m)
			}
		}
		if len(ft.Council) < 2 {
			errs = append(errs, fmt.Errorf("%s: council: a council needs at least 2 models, got %d", where, len(ft.Council)))
		}
		if t.Chairman == "" {
			errs = append(errs, fmt.Errorf("%s: no chairman", where))
		}
		if d, err := time.ParseDuration(strings.TrimSpace(ft.ExpectedLatency)); err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s: expected_latency %q: want a positive duration such as 12s", where, ft.ExpectedLatency))
		} else {
			t.ExpectedLatency = d
		}
		out = append(out, t)
	}
	for _, name := range TierNames {
		if !seen[name] {
			errs = append(errs, fmt.Errorf("tier %q is missing", name))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ExpectedLatency < out[j].ExpectedLatency })
	return out, nil
}

// cloneTiers returns a deep copy of tiers.
func cloneTiers(tiers []Tier) []Tier {
	out := make([]Tier, len(tiers))
	for i, t := range tiers {
		out[i] = t.clone()
	}
	return out
}

// clone returns a deep copy of t.
func (t Tier) clone() Tier {
	t.Council = append([]string(nil), t.Council...)
	return t
}
