package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/councilhq/council/orchestrator"
	"github.com/councilhq/council/outbound"
	"github.com/councilhq/council/server"
)

// envOf returns a getenv reading from m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	d := orchestrator.DefaultConfig()
	if c.addr != defaultAddr || c.provider != providerSim || c.simScale != 1 || c.logLevel != slog.LevelInfo {
		t.Errorf("config = %+v", c)
	}
	want := orchestrator.Config{
		Tiers:             orchestrator.Tiers(),
		Tier:              orchestrator.DefaultTierName,
		CollectTimeout:    d.CollectTimeout,
		ReviewTimeout:     d.ReviewTimeout,
		SynthesizeTimeout: d.SynthesizeTimeout,
		DeltaFlushWindow:  orchestrator.DefaultDeltaFlushWindow,
	}
	if diff := cmp.Diff(want, c.council); diff != "" {
		t.Errorf("council config (-want +got):\n%s", diff)
	}
	if c.maxConsult != server.DefaultMaxConsultDuration || c.drainTimeout != server.DefaultDrainTimeout {
		t.Errorf("maxConsult %v, drainTimeout %v", c.maxConsult, c.drainTimeout)
	}
}

func TestLoadConfigFromEnvironment(t *testing.T) {
	c, err := loadConfig(nil, envOf(map[string]string{
		envAddr:              "0.0.0.0:9000",
		envAPIKey:            "sk-test",
		envBaseURL:           "http://127.0.0.1:1/api/v1",
		envTier:              " Speed ",
		envModels:            "a/x, b/y,,a/x , c/z",
		envChairman:          "d/w",
		envCollectTimeout:    "3s",
		envReviewTimeout:     "4s",
		envSynthesizeTimeout: "5s",
		envMaxConsult:        "1m",
		envDrainTimeout:      "2s",
		envLogLevel:          "debug",
	}), io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.addr != "0.0.0.0:9000" || c.provider != providerOpenRouter || c.apiKey != "sk-test" ||
		c.baseURL != "http://127.0.0.1:1/api/v1" || c.logLevel != slog.LevelDebug {
		t.Errorf("config = %+v", c)
	}
	want := orchestrator.Config{
		Tiers:             orchestrator.Tiers(),
		Tier:              "speed",
		Council:           []string{"a/x", "b/y", "c/z"},
		Chairman:          "d/w",
		CollectTimeout:    3 * time.Second,
		ReviewTimeout:     4 * time.Second,
		SynthesizeTimeout: 5 * time.Second,
		DeltaFlushWindow:  orchestrator.DefaultDeltaFlushWindow,
	}
	if diff := cmp.Diff(want, c.council); diff != "" {
		t.Errorf("council config (-want +got):\n%s", diff)
	}
	if c.maxConsult != time.Minute || c.drainTimeout != 2*time.Second {
		t.Errorf("maxConsult %v, drainTimeout %v", c.maxConsult, c.drainTimeout)
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := loadConfig(
		[]string{"-addr", "127.0.0.1:0", "-provider", "sim", "-tier", "cost", "-models", "m1,m2", "-collect-timeout", "2s", "-sim-scale", "0.5"},
		envOf(map[string]string{envAddr: "127.0.0.1:1", envAPIKey: "sk-test", envTier: "speed", envModels: "x", envCollectTimeout: "9s"}),
		io.Discard)
	if err != nil {
		t.Fatalf("loadConfig: %v", err)
	}
	if c.addr != "127.0.0.1:0" || c.provider != providerSim || c.council.Tier != "cost" ||
		!slices.Equal(c.council.Council, []string{"m1", "m2"}) || c.council.CollectTimeout != 2*time.Second || c.simScale != 0.5 {
		t.Errorf("config = %+v", c)
	}
}

func TestLoadConfigRejectsBadValues(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"openrouter without key", map[string]string{envProvider: "openrouter"}, nil, envAPIKey},
		{"unknown provider", map[string]string{envProvider: "bedrock"}, nil, envProvider},
		{"bad duration", map[string]string{envCollectTimeout: "soon"}, nil, envCollectTimeout},
		{"negative duration", map[string]string{envDrainTimeout: "-1s"}, nil, envDrainTimeout},
		{"zero flag duration", nil, []string{"-review-timeout", "0s"}, "positive"},
		{"bad scale", map[string]string{envSimScale: "fast"}, nil, envSimScale},
		{"bad log level", map[string]string{envLogLevel: "loud"}, nil, envLogLevel},
		{"stray argument", nil, []string{"serve"}, "unexpected"},
		{"unknown flag", nil, []string{"-port", "1"}, "port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadConfig(tc.args, envOf(tc.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

// Property 4: Model configuration via environment. For any valid
// MODEL_TIER value (speed, balanced, cost, in any case and with surrounding
// spaces), councild loads that tier's council and chairman: a consultation
// through the configured council starts with exactly them.
func TestPropertyModelTierFromEnvironment(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tier := rapid.SampledFrom(orchestrator.Tiers()).Draw(rt, "tier")
		value := mixCase(rt, tier.Name)
		value = rapid.SampledFrom([]string{"", " ", "\t"}).Draw(rt, "pre") + value + rapid.SampledFrom([]string{"", " ", "\n"}).Draw(rt, "post")

		c, err := loadConfig(nil, envOf(map[string]string{envTier: value, envSimScale: "0.0001"}), io.Discard)
		if err != nil {
			rt.Fatalf("loadConfig: %v", err)
		}
		started := consultOnce(rt, c)
		if started.Tier != tier.Name || !slices.Equal(started.Council, tier.Council) || started.Chairman != tier.Chairman {
			rt.Fatalf("MODEL_TIER=%q started %+v, want tier %+v", value, started, tier)
		}
	})
}

// Property 4, the other half: any MODEL_TIER that is not a tier is a
// startup error naming the variable and the value.
func TestPropertyInvalidModelTierIsAnError(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		value := rapid.StringMatching(`[a-zA-Z0-9_-]{1,12}`).Draw(rt, "value")
		if _, ok := orchestrator.LookupTier(value); ok {
			rt.Skip("a valid tier")
		}
		_, err := loadConfig(nil, envOf(map[string]string{envTier: value}), io.Discard)
		if err == nil || !strings.Contains(err.Error(), envTier) || !strings.Contains(err.Error(), value) {
			rt.Fatalf("MODEL_TIER=%q: error %v, want one naming the variable and the value", value, err)
		}
	})
}

// mixCase changes the case of each letter of s at random.
func mixCase(rt *rapid.T, s string) string {
	b := []byte(s)
	for i := range b {
		if rapid.Bool().Draw(rt, "upper") {
			b[i] = strings.ToUpper(string(b[i]))[0]
		}
	}
	return string(b)
}

// consultOnce builds the provider and council the way councild does and
// returns the ConsultStarted of one consultation.
func consultOnce(rt *rapid.T, c config) orchestrator.ConsultStarted {
	client, err := newProvider(c)
	if err != nil {
		rt.Fatalf("newProvider: %v", err)
	}
	ctx := context.Background()
	if err := checkModels(ctx, client, &c.council, c.models, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		rt.Fatalf("checkModels: %v", err)
	}
	council, err := orchestrator.New(outbound.New(client, outbound.Config{MaxInFlight: 16}), c.council, orchestrator.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		rt.Fatalf("orchestrator.New: %v", err)
	}
	var started *orchestrator.ConsultStarted
	err = council.Consult(ctx, orchestrator.Request{Query: "Why is the sky blue?"}, func(ev orchestrator.Event) error {
		if s, ok := ev.Payload.(*orchestrator.ConsultStarted); ok {
			started = s
		}
		return nil
	})
	if err != nil {
		rt.Fatalf("Consult: %v", err)
	}
	if started == nil {
		rt.Fatalf("no ConsultStarted")
	}
	return *started
}

func TestLoadConfigFlushWindowAndStragglerCutoff(t *testing.T) {
	c, err := loadConfig(nil, envOf(map[string]string{envDeltaFlushWindow: "0", envStragglerCutoff: "true", envStragglerMultiple: "1.5"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.council.DeltaFlushWindow >= 0 {
		t.Errorf("%s=0: DeltaFlushWindow = %v, want negative (every piece at once)", envDeltaFlushWindow, c.council.DeltaFlushWindow)
	}
	want := orchestrator.StragglerCutoff{Floor: defaultStragglerFloor, Multiple: 1.5}
	if c.council.StragglerCutoff != want {
		t.Errorf("StragglerCutoff = %+v, want %+v", c.council.StragglerCutoff, want)
	}
	if _, err := loadConfig(nil, envOf(map[string]string{envStragglerMultiple: "-1"}), io.Discard); err == nil || !strings.Contains(err.Error(), envStragglerMultiple) {
		t.Errorf("negative multiple: err = %v", err)
	}
}
