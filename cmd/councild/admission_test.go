package main

import (
	"io"
	"testing"
	"time"
)

func TestLoadConfigAdaptiveAdmission(t *testing.T) {
	c, err := loadConfig(nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.admission != defaultAdaptiveAdmission || !c.admission.enabled || c.admission.option() == nil {
		t.Errorf("defaults = %+v, want %+v and on", c.admission, defaultAdaptiveAdmission)
	}

	c, err = loadConfig([]string{"-admission-min", "4"}, envOf(map[string]string{
		envAdaptiveAdmission:  "false",
		envAdmissionMin:       "30",
		envAdmissionTolerance: "25ms",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := adaptiveAdmission{enabled: false, min: 4, tolerance: 25 * time.Millisecond}
	if c.admission != want || c.admission.option() != nil {
		t.Errorf("configured = %+v, want %+v and no server option", c.admission, want)
	}

	for name, env := range map[string]map[string]string{
		"enabled not bool":   {envAdaptiveAdmission: "sometimes"},
		"min zero":           {envAdmissionMin: "0"},
		"tolerance negative": {envAdmissionTolerance: "-1ms"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := loadConfig(nil, envOf(env), io.Discard); err == nil {
				t.Error("loadConfig succeeded")
			}
		})
	}
}
