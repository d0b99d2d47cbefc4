// Package buildinfo says which build of council is running: the module
// version, the VCS revision and the time of the build.
//
// The version and revision come from the build information the Go
// toolchain records in every binary. The build time is set by the linker
// (go build -ldflags "-X github.com/councilhq/council/buildinfo.buildTime=...",
// as the Makefile does); without it the time of the revision's commit is
// shown instead. The linker may set the revision too (buildinfo.revision).
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// buildTime (RFC 3339) and revision are set by the linker. revision is used
// when the toolchain recorded none, as when building outside a Git checkout
// (a container build) or from a Git worktree.
var buildTime, revision string

// Info describes a build.
type Info struct {
	// Version is the main module's version, e.g. v1.2.0 or a pseudo-version
	// such as v0.0.0-20261201182900-2e640ca1b2c3+dirty; "(devel)" when the
	// toolchain knew none.
	Version string
	// Revision is the VCS commit the binary was built from; empty when
	// unknown.
	Revision string
	// Modified is true when the work tree had uncommitted changes.
	Modified bool
	// Time is the build time, or else the commit time, RFC 3339; empty
	// when neither is known.
	Time string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	info := Info{Version: "(devel)", GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		info.Revision, info.Time = revision, buildTime
		return info
	}
	if v := bi.Main.Version; v != "" {
		info.Version = v
	}
	var commitTime string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.time":
			commitTime = s.Value
		case "vcs.modified":
			info.Modified = s.Value == "true"
		}
	}
	if info.Revision == "" {
		info.Revision = revision
	}
	info.Time = buildTime
	if info.Time == "" {
		info.Time = commitTime
	}
	return info
}

// String writes the build on one line: version, revision, time and
// toolchain, leaving out what is unknown.
func (i Info) String() string {
	s := i.Version
	if i.Revision != "" {
		s += " revision " + i.Revision
		if i.Modified {
			s += " (modified)"
		}
	}
	if i.Time != "" {
		s += " built " + i.Time
	}
	return fmt.Sprintf("%s %s %s/%s", s, i.GoVersion, runtime.GOOS, runtime.GOARCH)
}
