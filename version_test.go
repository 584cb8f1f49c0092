package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteVersion(t *testing.T) {
	tests := []struct {
		b    build
		want string
	}{
		{build{Version: "1.2.0", Revision: "abc123", Time: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"towerhook 1.2.0 (revision: abc123)\n  build time:  2026-01-02T03:04:05Z\n  go version:  go1.26.8\n  platform:    linux/amd64\n"},
		{build{Version: "dev", Revision: "abc123", Modified: true, Time: "2026-01-02T03:04:05Z", TimeIsCommit: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
			"towerhook dev (revision: abc123, modified)\n  commit time: 2026-01-02T03:04:05Z\n  go version:  go1.26.8\n  platform:    linux/arm64\n"},
		{build{Version: "dev", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"towerhook dev (revision: unknown)\n  build time:  unknown\n  go version:  go1.26.8\n  platform:    linux/amd64\n"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		writeVersion(&b, tt.b)
		if b.String() != tt.want {
			t.Errorf("got\n%s\nwant\n%s", b.String(), tt.want)
		}
	}
}

// TestVersionPlainGoBuild builds the program with a plain `go build` in a
// fresh git repository holding this source tree: `towerhook version`
// reports that commit and its time from the embedded build information.
func TestVersionPlainGoBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the program")
	}
	for _, tool := range []string{"git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	src := t.TempDir()
	copyTree(t, ".", src)
	sh := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = src
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com", "GIT_CONFIG_GLOBAL=/dev/null",
			"GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	sh("git", "init", "-q")
	sh("git", "add", "-A")
	sh("git", "commit", "-qm", "test")
	rev := sh("git", "rev-parse", "HEAD")
	bin := filepath.Join(t.TempDir(), "towerhook")
	// -buildvcs=true: what `go build` does by default (GOFLAGS may say otherwise here).
	sh("go", "build", "-buildvcs=true", "-o", bin, ".")
	out := sh(bin, "version")
	for _, want := range []string{"(revision: " + rev + ")", "commit time: 2026-01-02T03:04:05Z", "go version:  go1."} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
}

// copyTree copies the source files of the module (no .git, bin, data).
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			switch rel {
			case ".git", "bin", "data":
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		if !d.Type().IsRegular() || (rel == ".git") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
