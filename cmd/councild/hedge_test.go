package main

import (
	"io"
	"maps"
	"testing"
)

func TestParseHedge(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: "", want: map[string]string{}},
		{in: "a/x=b/y", want: map[string]string{"a/x": "b/y"}},
		{in: " a/x = b/y , c/z=d/w,", want: map[string]string{"a/x": "b/y", "c/z": "d/w"}},
		{in: "a/x", bad: true},
		{in: "a/x=", bad: true},
		{in: "=b/y", bad: true},
		{in: "a/x=a/x", bad: true},
	}
	for _, tc := range cases {
		got, err := parseHedge(tc.in)
		if (err != nil) != tc.bad {
			t.Errorf("parseHedge(%q) error = %v, want error %v", tc.in, err, tc.bad)
			continue
		}
		if !tc.bad && !maps.Equal(got, tc.want) {
			t.Errorf("parseHedge(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestLoadConfigHedge(t *testing.T) {
	c, err := loadConfig(nil, envOf(map[string]string{envHedge: "a/x=b/y"}), io.Discard)
	if err != nil || c.hedge["a/x"] != "b/y" {
		t.Fatalf("hedge = %v, err = %v", c.hedge, err)
	}
	if _, err := loadConfig(nil, envOf(map[string]string{envHedge: "nonsense"}), io.Discard); err == nil {
		t.Fatal("a malformed COUNCIL_HEDGE was accepted")
	}
}
