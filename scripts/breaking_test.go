// Package scripts_test tests the repository's scripts. The scripts
// themselves are shell; this package holds only tests.
package scripts_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository's root, the parent of scripts/.
const repoRoot = ".."

// copyFile copies the repository's file rel into dir.
func copyFile(t *testing.T, dir, rel string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(repoRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, st.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

// run runs name with args in dir and returns its combined output and
// whether it succeeded.
func run(t *testing.T, dir string, env []string, name string, args ...string) (string, bool) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return string(out), err == nil
}

// git runs git in dir and fails the test when it fails.
func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, ok := run(t, dir, nil, "git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...); !ok {
		t.Fatalf("git %v: %s", args, out)
	}
}

// newRepo returns a Git repository holding the API (buf.yaml, proto/), the
// script and the tools module, in one commit.
func newRepo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := []string{"go.mod", "buf.yaml", "scripts/buf-breaking.sh", "tools/go.mod", "tools/go.sum"}
	protos, err := filepath.Glob(filepath.Join(repoRoot, "proto", "council", "v1", "*.proto"))
	if err != nil || len(protos) == 0 {
		t.Fatalf("no protos: %v", err)
	}
	for _, p := range protos {
		files = append(files, filepath.Join("proto", "council", "v1", filepath.Base(p)))
	}
	for _, f := range files {
		copyFile(t, dir, f)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "api")
	return dir
}

// edit rewrites the repository's council.proto, replacing old by new.
func edit(t *testing.T, dir, old, new string) {
	t.Helper()
	p := filepath.Join(dir, "proto", "council", "v1", "council.proto")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("council.proto lacks %q", old)
	}
	if err := os.WriteFile(p, []byte(strings.Replace(string(data), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
}

const (
	tierField   = "  Tier tier = 2;"
	renamed     = "  Tier tier_choice = 2;"
	addedField  = "message ListTiersRequest {}"
	withAdded   = "message ListTiersRequest {\n  // A field added later.\n  string filter = 1;\n}"
	breakingMsg = `changed name from "tier" to "tier_choice"`
)

func TestBufBreaking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds buf")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	script := "scripts/buf-breaking.sh"

	t.Run("first commit", func(t *testing.T) {
		dir := newRepo(t)
		out, ok := run(t, dir, nil, script)
		if !ok || !strings.Contains(out, "skipped, HEAD is the first commit") {
			t.Errorf("ok=%v:\n%s", ok, out)
		}
	})

	t.Run("previous commit", func(t *testing.T) {
		dir := newRepo(t)
		edit(t, dir, addedField, withAdded)
		git(t, dir, "commit", "-q", "-am", "an added field")
		if out, ok := run(t, dir, nil, script); !ok || !strings.Contains(out, "against HEAD~1 (the previous commit") {
			t.Fatalf("an added field: ok=%v:\n%s", ok, out)
		}
		edit(t, dir, tierField, renamed) // uncommitted changes count too
		if out, ok := run(t, dir, nil, script); ok || !strings.Contains(out, breakingMsg) {
			t.Errorf("a renamed field: ok=%v:\n%s", ok, out)
		}
	})

	t.Run("last release tag", func(t *testing.T) {
		dir := newRepo(t)
		git(t, dir, "tag", "v1.0.0")
		edit(t, dir, tierField, renamed)
		git(t, dir, "commit", "-q", "-am", "rename")
		edit(t, dir, renamed, tierField)
		git(t, dir, "commit", "-q", "-am", "rename back")
		// Against the previous commit this is a rename; against the
		// release it is no change at all.
		if out, ok := run(t, dir, nil, script); !ok || !strings.Contains(out, "against v1.0.0 (the last release tag") {
			t.Errorf("ok=%v:\n%s", ok, out)
		}
		if out, ok := run(t, dir, []string{"BUF_AGAINST=HEAD~1"}, script); ok || !strings.Contains(out, `changed name from "tier_choice" to "tier"`) {
			t.Errorf("BUF_AGAINST=HEAD~1: ok=%v:\n%s", ok, out)
		}
	})

	t.Run("shallow clone", func(t *testing.T) {
		dir := newRepo(t)
		edit(t, dir, addedField, withAdded)
		git(t, dir, "commit", "-q", "-am", "an added field")
		clone := filepath.Join(t.TempDir(), "clone")
		git(t, dir, "clone", "-q", "--depth", "1", "file://"+dir, clone)
		if out, ok := run(t, clone, nil, script); !ok || !strings.Contains(out, "skipped, this shallow clone") {
			t.Errorf("ok=%v:\n%s", ok, out)
		}
	})
}
