package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestReadKnowsTheToolchain(t *testing.T) {
	i := Read()
	if i.GoVersion != runtime.Version() || i.Version == "" {
		t.Errorf("Read() = %+v", i)
	}
}

func TestStringLeavesOutWhatIsUnknown(t *testing.T) {
	for _, tc := range []struct {
		info Info
		want string
	}{
		{Info{Version: "v1.2.0", Revision: "abc", Modified: true, Time: "2026-12-01T18:00:00Z", GoVersion: "go1.26"},
			"v1.2.0 revision abc (modified) built 2026-12-01T18:00:00Z go1.26 "},
		{Info{Version: "(devel)", GoVersion: "go1.26"}, "(devel) go1.26 "},
	} {
		if got := tc.info.String(); !strings.HasPrefix(got, tc.want) {
			t.Errorf("String() = %q, want prefix %q", got, tc.want)
		}
	}
}
