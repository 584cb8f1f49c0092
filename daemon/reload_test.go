package daemon

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Hot-reload acceptance tests (issue 6). Every scenario runs a real daemon
// (production debounce) over a temporary directory, changes the directory the
// way a real tool does, and asserts what is served over HTTP. Waits are on
// conditions with generous deadlines, never on fixed sleeps.

// rlWait is the deadline for a change to be served. The contract is "within
// a second"; BenchmarkChangeToAnswer measures that, tests only need robustness
// on a loaded 2-core CI machine under -race.
const rlWait = 15 * time.Second

// rlAuthYAML defines the authenticator every test webhook uses.
const rlAuthYAML = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: open
  name: Open
  code: |
    result = {allowed = true}
`

// rlHooks returns a definitions file with one webhook per endpoint/message
// pair; each answers 200 with its message. The reference is the endpoint with
// "/" replaced by "_".
func rlHooks(pairs ...string) string {
	var b strings.Builder
	b.WriteString("cetmix_tower_yaml_version: 1\nrecords:\n")
	for i := 0; i+1 < len(pairs); i += 2 {
		ep, msg := pairs[i], pairs[i+1]
		b.WriteString(hook(strings.ReplaceAll(ep, "/", "_"), ep, "open", "", fmt.Sprintf("result.message = %q", msg)))
	}
	return b.String()
}

// rlAnswer posts {} to endpoint and returns "<status> <message>".
func rlAnswer(t testing.TB, pub, endpoint string) string {
	t.Helper()
	r := do(t, "POST", pub+DefaultPrefix+endpoint, "{}", nil)
	return fmt.Sprintf("%d %v", r.Status, r.Message)
}

// rlAnswers returns the first mismatch between want (endpoint -> answer) and
// what is served, or "".
func rlAnswers(t testing.TB, pub string, want map[string]string) string {
	t.Helper()
	for ep, w := range want {
		if got := rlAnswer(t, pub, ep); got != w {
			return fmt.Sprintf("%s answers %q, want %q", ep, got, w)
		}
	}
	return ""
}

// rlMetric returns the value of one exposition series, e.g.
// `towerhook_config_reloads_total{result="failure"}`, or -1 if absent.
func rlMetric(t testing.TB, admin, series string) float64 {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(metricsText(t, admin)))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("metric line %q: %v", line, err)
			}
			return f
		}
	}
	return -1
}

// rlDefs is the part of GET /api/v1/definitions these tests read.
type rlDefs struct {
	ConfigHash string       `json:"config_hash"`
	LastReload ReloadResult `json:"last_reload"`
	ReloadOK   bool         `json:"last_reload_successful"`
	Errors     []string     `json:"errors"`
	Webhooks   []struct {
		Reference string `json:"reference"`
	} `json:"webhooks"`
}

func rlDefinitions(t testing.TB, admin string) rlDefs {
	t.Helper()
	var v rlDefs
	if code := getJSON(t, admin+"/api/v1/definitions", &v); code != http.StatusOK {
		t.Fatalf("GET /api/v1/definitions: status %d", code)
	}
	return v
}

// rlPostReload calls POST /-/reload and decodes its result.
func rlPostReload(t testing.TB, admin string) (int, ReloadResult) {
	t.Helper()
	var res ReloadResult
	resp, err := http.Post(admin+"/-/reload", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("POST /-/reload: %v: %s", err, b)
	}
	return resp.StatusCode, res
}

// rlWrite writes content to path, creating folders.
func rlWrite(t testing.TB, path, content string) {
	t.Helper()
	rlMust(t, os.MkdirAll(filepath.Dir(path), 0o755))
	rlMust(t, os.WriteFile(path, []byte(content), 0o644))
}

// rlAtomicWrite writes a dot-named temporary file next to path and renames
// it over path, as editors with atomic save, rsync and git-sync do.
func rlAtomicWrite(t testing.TB, path, content string) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	rlWrite(t, tmp, content)
	rlMust(t, os.Rename(tmp, path))
}

func rlMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rlEnv is one scenario's world: base is a private folder, root the path
// given as Options.Dir (below base, so the root itself can be replaced).
type rlEnv struct {
	t    *testing.T
	base string
	root string
	d    *testDaemon
	f    *os.File // an in-place write in progress
	git  func(args ...string)
}

func (e *rlEnv) path(name string) string { return filepath.Join(e.root, filepath.FromSlash(name)) }

// rlStep changes the directory, then asserts the served answers.
type rlStep struct {
	name string
	do   func(e *rlEnv)
	// want maps endpoint -> "<status> <message>" that must be served after
	// the step (for a failing step: still served, from the last good set).
	want map[string]string
	// fail, when set, is a regexp one of the reported errors must match:
	// the step leaves the directory invalid, the reload must fail, and the
	// last good set must keep serving.
	fail string
}

// rlAwait waits until the step's outcome is visible and checks it.
func rlAwait(t *testing.T, d *testDaemon, s rlStep) {
	t.Helper()
	if s.fail == "" {
		deadline := time.Now().Add(rlWait)
		for {
			why := rlAnswers(t, d.pub, s.want)
			if why == "" {
				if v := rlMetric(t, d.admin, "towerhook_config_last_reload_successful"); v != 1 {
					why = fmt.Sprintf("towerhook_config_last_reload_successful = %v", v)
				} else if defs := rlDefinitions(t, d.admin); !defs.ReloadOK || len(defs.Errors) > 0 {
					why = fmt.Sprintf("API reports errors %q", defs.Errors)
				}
			}
			if why == "" {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("step %s not served after %v: %s", s.name, rlWait, why)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	re := regexp.MustCompile(s.fail)
	var defs rlDefs
	eventually(t, rlWait, "step "+s.name+" to be reported as a failed reload", func() bool {
		if rlMetric(t, d.admin, "towerhook_config_last_reload_successful") != 0 {
			return false
		}
		defs = rlDefinitions(t, d.admin)
		if defs.ReloadOK || defs.LastReload.Status != "failure" {
			return false
		}
		for _, e := range defs.Errors {
			if re.MatchString(e) {
				return true
			}
		}
		return false
	})
	if n := rlMetric(t, d.admin, `towerhook_config_reloads_total{result="failure"}`); n < 1 {
		t.Errorf("reloads_total{result=failure} = %v after a failed reload", n)
	}
	// The failure has been reported: the last good set must still be served.
	if why := rlAnswers(t, d.pub, s.want); why != "" {
		t.Fatalf("step %s: after a failed reload (errors %q): %s", s.name, defs.Errors, why)
	}
}

// rlGit returns a git runner for dir that ignores the user's configuration.
func rlGit(t *testing.T, dir string) func(args ...string) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	home := t.TempDir()
	return func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "HOME="+home, "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+filepath.Join(home, "gitconfig"),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// k8sWrite emulates the kubelet's AtomicWriter for a ConfigMap volume: the
// payload goes to a new ..<timestamp> folder, a ..data_tmp link to it is
// created, visible links for new keys are created (dangling until the swap),
// ..data_tmp is renamed over ..data, visible links of removed keys and the
// old timestamp folder are deleted.
func k8sWrite(t testing.TB, root, version string, files map[string]string) {
	t.Helper()
	oldTS, _ := os.Readlink(filepath.Join(root, "..data"))
	ts := "..2026_01_01_00_00_00." + version
	for name, content := range files {
		rlWrite(t, filepath.Join(root, ts, name), content)
	}
	rlMust(t, os.Symlink(ts, filepath.Join(root, "..data_tmp")))
	for name := range files {
		link := filepath.Join(root, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			rlMust(t, os.Symlink(filepath.Join("..data", name), link))
		}
	}
	rlMust(t, os.Rename(filepath.Join(root, "..data_tmp"), filepath.Join(root, "..data")))
	if oldTS == "" {
		return
	}
	entries, err := os.ReadDir(filepath.Join(root, oldTS))
	rlMust(t, err)
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			rlMust(t, os.Remove(filepath.Join(root, e.Name())))
		}
	}
	rlMust(t, os.RemoveAll(filepath.Join(root, oldTS)))
}

func TestReloadScenarios(t *testing.T) {
	half := rlHooks("a", "v2", "b", "b1")
	half = half[:strings.Index(half, "authenticator_id")+5] // "  authe": a YAML syntax error

	tests := []struct {
		name string
		// setup builds the initial definitions at e.root (which it may
		// change); nil writes files into e.root.
		setup func(e *rlEnv)
		files map[string]string
		want  map[string]string
		steps []rlStep
	}{
		{
			name:  "1 atomic save",
			files: map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1", "b", "b1")},
			want:  map[string]string{"a": "200 v1", "b": "200 b1"},
			steps: []rlStep{
				{name: "save v2", do: func(e *rlEnv) { rlAtomicWrite(e.t, e.path("hooks.yaml"), rlHooks("a", "v2", "b", "b1")) },
					want: map[string]string{"a": "200 v2", "b": "200 b1"}},
				{name: "save v3", do: func(e *rlEnv) { rlAtomicWrite(e.t, e.path("hooks.yaml"), rlHooks("a", "v3", "b", "b1")) },
					want: map[string]string{"a": "200 v3", "b": "200 b1"}},
			},
		},
		{
			name:  "2 vim-style save",
			files: map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1")},
			want:  map[string]string{"a": "200 v1"},
			steps: []rlStep{
				{name: "vim save v2", do: func(e *rlEnv) { rlVimSave(e.t, e.path("hooks.yaml"), rlHooks("a", "v2")) },
					want: map[string]string{"a": "200 v2"}},
				{name: "vim save v3", do: func(e *rlEnv) { rlVimSave(e.t, e.path("hooks.yaml"), rlHooks("a", "v3")) },
					want: map[string]string{"a": "200 v3"}},
			},
		},
		{
			name:  "3 in-place partial write",
			files: map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1", "b", "b1")},
			want:  map[string]string{"a": "200 v1", "b": "200 b1"},
			steps: []rlStep{
				{name: "first half written in place", do: func(e *rlEnv) {
					f, err := os.OpenFile(e.path("hooks.yaml"), os.O_WRONLY|os.O_TRUNC, 0)
					rlMust(e.t, err)
					e.f = f
					_, err = f.WriteString(half)
					rlMust(e.t, err)
				}, fail: `hooks\.yaml:\d+`, want: map[string]string{"a": "200 v1", "b": "200 b1"}},
				{name: "rest written", do: func(e *rlEnv) {
					_, err := e.f.WriteString(rlHooks("a", "v2", "b", "b1")[len(half):])
					rlMust(e.t, err)
					rlMust(e.t, e.f.Close())
				}, want: map[string]string{"a": "200 v2", "b": "200 b1"}},
			},
		},
		{
			name: "4 git checkout of another branch",
			setup: func(e *rlEnv) {
				rlMust(e.t, os.Mkdir(e.root, 0o755))
				e.git = rlGit(e.t, e.root)
				writeFiles(e.t, e.root, map[string]string{
					"auth.yaml": rlAuthYAML, "team/a.yaml": rlHooks("a", "main"),
					"team/old.yaml": rlHooks("old", "o1"), "shared/b.yaml": rlHooks("b", "b1"),
				})
				e.git("init", "-q", "-b", "main")
				e.git("add", ".")
				e.git("commit", "-q", "-m", "main")
				e.git("checkout", "-q", "-b", "other")
				rlMust(e.t, os.Remove(e.path("team/old.yaml")))
				rlMust(e.t, os.Remove(e.path("shared/b.yaml")))
				writeFiles(e.t, e.root, map[string]string{
					"team/a.yaml": rlHooks("a", "other"), "ops/new/n.yaml": rlHooks("n", "n1"),
					"moved/deep/b.yaml": rlHooks("b", "b1"),
				})
				e.git("add", "-A")
				e.git("commit", "-q", "-m", "other")
				e.git("checkout", "-q", "main")
			},
			want: map[string]string{"a": "200 main", "old": "200 o1", "b": "200 b1", "n": "404 Webhook not found"},
			steps: []rlStep{
				{name: "checkout other", do: func(e *rlEnv) { e.git("checkout", "-q", "other") },
					want: map[string]string{"a": "200 other", "old": "404 Webhook not found", "b": "200 b1", "n": "200 n1"}},
				{name: "checkout main", do: func(e *rlEnv) { e.git("checkout", "-q", "main") },
					want: map[string]string{"a": "200 main", "old": "200 o1", "b": "200 b1", "n": "404 Webhook not found"}},
			},
		},
		{
			name: "5 kubernetes configmap",
			setup: func(e *rlEnv) {
				rlMust(e.t, os.Mkdir(e.root, 0o755))
				k8sWrite(e.t, e.root, "1", map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1")})
			},
			want: map[string]string{"a": "200 v1", "x": "404 Webhook not found"},
			steps: []rlStep{
				{name: "update adds a key", do: func(e *rlEnv) {
					k8sWrite(e.t, e.root, "2", map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v2"), "extra.yaml": rlHooks("x", "x1")})
				}, want: map[string]string{"a": "200 v2", "x": "200 x1"}},
				{name: "update removes a key", do: func(e *rlEnv) {
					k8sWrite(e.t, e.root, "3", map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v3")})
				}, want: map[string]string{"a": "200 v3", "x": "404 Webhook not found"}},
				{name: "broken update", do: func(e *rlEnv) {
					k8sWrite(e.t, e.root, "4", map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v4") + "  endpont: typo\n"})
				}, fail: `hooks\.yaml:\d+`, want: map[string]string{"a": "200 v3"}},
				{name: "fixed update", do: func(e *rlEnv) {
					k8sWrite(e.t, e.root, "5", map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v5")})
				}, want: map[string]string{"a": "200 v5"}},
			},
		},
		{
			name:  "6a root renamed away and recreated",
			files: map[string]string{"auth.yaml": rlAuthYAML, "sub/hooks.yaml": rlHooks("a", "v1")},
			want:  map[string]string{"a": "200 v1"},
			steps: []rlStep{
				{name: "rename away, recreate", do: func(e *rlEnv) {
					rlMust(e.t, os.Rename(e.root, e.root+".old"))
					writeFiles(e.t, e.root, map[string]string{"auth.yaml": rlAuthYAML, "sub/hooks.yaml": rlHooks("a", "v2")})
				}, want: map[string]string{"a": "200 v2"}},
				{name: "edit in the new root", do: func(e *rlEnv) { rlAtomicWrite(e.t, e.path("sub/hooks.yaml"), rlHooks("a", "v3")) },
					want: map[string]string{"a": "200 v3"}},
				{name: "root removed and recreated", do: func(e *rlEnv) {
					rlMust(e.t, os.RemoveAll(e.root))
					writeFiles(e.t, e.root, map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v4")})
				}, want: map[string]string{"a": "200 v4"}},
			},
		},
		{
			name: "6b root replaced by a symlink swap",
			setup: func(e *rlEnv) {
				writeFiles(e.t, filepath.Join(e.base, "v1"), map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1")})
				rlMust(e.t, os.Symlink("v1", e.root))
			},
			want: map[string]string{"a": "200 v1"},
			steps: []rlStep{
				{name: "swap to v2", do: func(e *rlEnv) { rlSwapRoot(e, "v2", rlHooks("a", "v2")) },
					want: map[string]string{"a": "200 v2"}},
				{name: "edit inside the new target", do: func(e *rlEnv) {
					rlAtomicWrite(e.t, filepath.Join(e.base, "v2", "hooks.yaml"), rlHooks("a", "v2b"))
				}, want: map[string]string{"a": "200 v2b"}},
				{name: "swap to v3", do: func(e *rlEnv) { rlSwapRoot(e, "v3", rlHooks("a", "v3")) },
					want: map[string]string{"a": "200 v3"}},
			},
		},
		{
			name:  "7 new subfolder in one go",
			files: map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1")},
			want:  map[string]string{"a": "200 v1", "p": "404 Webhook not found"},
			steps: []rlStep{
				{name: "mkdir -p and write", do: func(e *rlEnv) {
					rlWrite(e.t, e.path("teams/pay/eu/p.yaml"), rlHooks("p", "p1"))
					rlWrite(e.t, e.path("teams/pay/q.yaml"), rlHooks("q", "q1"))
					rlWrite(e.t, e.path("teams/r.yaml"), rlHooks("r", "r1"))
				}, want: map[string]string{"a": "200 v1", "p": "200 p1", "q": "200 q1", "r": "200 r1"}},
				{name: "file added in the new deep folder", do: func(e *rlEnv) {
					rlWrite(e.t, e.path("teams/pay/eu/s.yaml"), rlHooks("s", "s1"))
				}, want: map[string]string{"s": "200 s1"}},
				{name: "prepared tree moved in", do: func(e *rlEnv) {
					writeFiles(e.t, filepath.Join(e.base, "staging"), map[string]string{"x/y/m.yml": rlHooks("m", "m1")})
					rlMust(e.t, os.Rename(filepath.Join(e.base, "staging"), e.path("ops")))
				}, want: map[string]string{"m": "200 m1", "p": "200 p1"}},
				{name: "file added in the moved-in tree", do: func(e *rlEnv) {
					rlWrite(e.t, e.path("ops/x/y/z.yml"), rlHooks("z", "z1"))
				}, want: map[string]string{"z": "200 z1"}},
			},
		},
		{
			name:  "8 broken file",
			files: map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": rlHooks("a", "v1"), "other.yaml": rlHooks("o", "o1")},
			want:  map[string]string{"a": "200 v1", "o": "200 o1"},
			steps: []rlStep{
				{name: "unknown key", do: func(e *rlEnv) {
					rlAtomicWrite(e.t, e.path("hooks.yaml"), strings.Replace(rlHooks("a", "v2"), "endpoint:", "endpont:", 1))
				}, fail: `hooks\.yaml:\d+`, want: map[string]string{"a": "200 v1", "o": "200 o1"}},
				{name: "lua syntax error", do: func(e *rlEnv) {
					rlAtomicWrite(e.t, e.path("hooks.yaml"), rlHooks("a", "v2")+hook("lua_bad", "lua_bad", "open", "", "result = = 1"))
				}, fail: `hooks\.yaml:\d+`, want: map[string]string{"a": "200 v1", "o": "200 o1", "lua_bad": "404 Webhook not found"}},
				{name: "fixed", do: func(e *rlEnv) { rlAtomicWrite(e.t, e.path("hooks.yaml"), rlHooks("a", "v2")) },
					want: map[string]string{"a": "200 v2", "o": "200 o1"}},
			},
		},
		{
			name:  "9 file deleted",
			files: map[string]string{"auth.yaml": rlAuthYAML, "a.yaml": rlHooks("a", "v1"), "sub/b.yaml": rlHooks("b", "b1")},
			want:  map[string]string{"a": "200 v1", "b": "200 b1"},
			steps: []rlStep{
				{name: "delete b", do: func(e *rlEnv) { rlMust(e.t, os.Remove(e.path("sub/b.yaml"))) },
					want: map[string]string{"a": "200 v1", "b": "404 Webhook not found"}},
				{name: "delete the authenticator a references", do: func(e *rlEnv) { rlMust(e.t, os.Remove(e.path("auth.yaml"))) },
					fail: `a\.yaml:\d+.*open`, want: map[string]string{"a": "200 v1", "b": "404 Webhook not found"}},
				// Restored with a different name: a revert to the exact last
				// good content is TestReloadRevertToLastGood.
				{name: "restore it", do: func(e *rlEnv) {
					rlAtomicWrite(e.t, e.path("auth.yaml"), strings.Replace(rlAuthYAML, "name: Open", "name: Open again", 1))
				},
					want: map[string]string{"a": "200 v1", "b": "404 Webhook not found"}},
				{name: "folder tree added", do: func(e *rlEnv) {
					rlWrite(e.t, e.path("deep/er/c.yaml"), rlHooks("c", "c1"))
				}, want: map[string]string{"c": "200 c1"}},
				{name: "folder tree removed", do: func(e *rlEnv) { rlMust(e.t, os.RemoveAll(e.path("deep"))) },
					want: map[string]string{"a": "200 v1", "c": "404 Webhook not found"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := &rlEnv{t: t, base: t.TempDir()}
			e.root = filepath.Join(e.base, "defs")
			if tt.setup != nil {
				tt.setup(e)
			} else {
				writeFiles(t, e.root, tt.files)
			}
			e.d = startDaemon(t, nil, func(o *Options) { o.Dir = e.root })
			rlAwait(t, e.d, rlStep{name: "initial", want: tt.want})
			for _, s := range tt.steps {
				s.do(e)
				rlAwait(t, e.d, s)
			}
		})
	}
}

// rlVimSave saves like vim with backupcopy=no: probe file 4913, swap file,
// rename the original to a backup, write the new file, remove the backup.
func rlVimSave(t testing.TB, path, content string) {
	t.Helper()
	dir := filepath.Dir(path)
	swp := filepath.Join(dir, "."+filepath.Base(path)+".swp")
	rlWrite(t, swp, "vim swap")
	probe := filepath.Join(dir, "4913")
	rlWrite(t, probe, "")
	rlMust(t, os.Remove(probe))
	rlMust(t, os.Rename(path, path+"~"))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	rlMust(t, err)
	// vim writes in blocks; two writes leave a window with half a file.
	_, err = f.WriteString(content[:len(content)/2])
	rlMust(t, err)
	_, err = f.WriteString(content[len(content)/2:])
	rlMust(t, err)
	rlMust(t, f.Sync())
	rlMust(t, f.Close())
	rlMust(t, os.Remove(path+"~"))
	rlMust(t, os.Remove(swp))
}

// rlSwapRoot makes e.base/target a new definitions folder and atomically
// points the root symlink at it (ln -s target tmp && mv -T tmp root), then
// removes the folder the root pointed at before.
func rlSwapRoot(e *rlEnv, target, hooks string) {
	old, err := os.Readlink(e.root)
	rlMust(e.t, err)
	writeFiles(e.t, filepath.Join(e.base, target), map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": hooks})
	tmp := e.root + ".tmp"
	rlMust(e.t, os.Symlink(target, tmp))
	rlMust(e.t, os.Rename(tmp, e.root))
	rlMust(e.t, os.RemoveAll(filepath.Join(e.base, old)))
}

// rlSecretHooks reads secret "mode" and answers "first" for "alpha" and
// "second" otherwise, so rotating the secret (which nothing watches)
// changes the answer without the message revealing the secret.
func rlSecretHooks() map[string]string {
	return map[string]string{
		"auth.yaml": rlAuthYAML,
		"hooks.yaml": "cetmix_tower_yaml_version: 1\nrecords:\n" + hook("rot", "rot", "open", "",
			`if #!cxtower.secret.mode!# == "alpha" then result.message = "first" else result.message = "second" end`),
	}
}

// rlWatching waits for the reload that follows the watcher's start ("watch
// established", unchanged). A test that changes what the watcher cannot
// see (a secret) and then reloads explicitly must not race with it.
func rlWatching(t *testing.T, d *testDaemon) {
	t.Helper()
	eventually(t, rlWait, "the reload after the watcher started", func() bool {
		return rlMetric(t, d.admin, `towerhook_config_reloads_total{result="unchanged"}`) >= 1
	})
}

func rlSecrets(t *testing.T, value string) (string, func(value string)) {
	dir := t.TempDir()
	set := func(value string) {
		t.Helper()
		if value == "" {
			rlMust(t, os.Remove(filepath.Join(dir, "mode")))
			return
		}
		rlAtomicWrite(t, filepath.Join(dir, "mode"), value+"\n")
	}
	set(value)
	return dir, set
}

// TestReloadRevertToLastGood: a broken file reverted to exactly the content
// being served is an "unchanged" reload, which must still clear the failure
// (metric back to 1, no errors in the API).
func TestReloadRevertToLastGood(t *testing.T) {
	t.Parallel()
	good := rlHooks("a", "v1")
	d := startDaemon(t, map[string]string{"auth.yaml": rlAuthYAML, "hooks.yaml": good}, nil)
	want := map[string]string{"a": "200 v1"}
	rlAwait(t, d, rlStep{name: "initial", want: want})
	rlAtomicWrite(t, filepath.Join(d.dir, "hooks.yaml"), good+"  endpont: typo\n")
	rlAwait(t, d, rlStep{name: "broken", fail: `hooks\.yaml:\d+`, want: want})
	rlAtomicWrite(t, filepath.Join(d.dir, "hooks.yaml"), good)
	eventually(t, rlWait, "the revert to be reloaded", func() bool {
		defs := rlDefinitions(t, d.admin)
		return defs.LastReload.Status == "unchanged" && defs.ReloadOK && len(defs.Errors) == 0
	})
	if why := rlAnswers(t, d.pub, want); why != "" {
		t.Fatal(why)
	}
	if v := rlMetric(t, d.admin, "towerhook_config_last_reload_successful"); v != 1 {
		t.Errorf("towerhook_config_last_reload_successful = %v after reverting to the serving content", v)
	}
}

// TestReloadAdminAPI: POST /-/reload returns the result (unchanged, success,
// failure); the swap has happened when it returns. The change is a rotated
// secret, which the watcher does not see, so only the API can apply it.
func TestReloadAdminAPI(t *testing.T) {
	t.Parallel()
	secrets, setSecret := rlSecrets(t, "alpha")
	d := startDaemon(t, rlSecretHooks(), func(o *Options) { o.SecretsDir = secrets })
	if got := rlAnswer(t, d.pub, "rot"); got != "200 first" {
		t.Fatalf("initial answer %q", got)
	}
	rlWatching(t, d)
	before := rlDefinitions(t, d.admin).ConfigHash

	steps := []struct {
		name   string
		secret string // "" removes it
		code   int
		status string
		answer string
		errRe  string
	}{
		{"nothing changed", "alpha", 200, "unchanged", "200 first", ""},
		{"secret rotated", "bravo", 200, "success", "200 second", ""},
		{"secret removed", "", 500, "failure", "200 second", `mode`},
		{"secret restored", "alpha", 200, "success", "200 first", ""},
		{"again unchanged", "alpha", 200, "unchanged", "200 first", ""},
	}
	for _, s := range steps {
		setSecret(s.secret)
		code, res := rlPostReload(t, d.admin)
		if code != s.code || res.Status != s.status || res.Reason != "admin API" {
			t.Fatalf("%s: POST /-/reload = %d %+v, want %d %s", s.name, code, res, s.code, s.status)
		}
		if got := rlAnswer(t, d.pub, "rot"); got != s.answer {
			t.Errorf("%s: answer %q, want %q", s.name, got, s.answer)
		}
		defs := rlDefinitions(t, d.admin)
		if res.Hash != defs.ConfigHash {
			t.Errorf("%s: result hash %s, serving %s", s.name, res.Hash, defs.ConfigHash)
		}
		if s.errRe != "" {
			if len(res.Errors) == 0 || !regexp.MustCompile(s.errRe).MatchString(strings.Join(res.Errors, "\n")) {
				t.Errorf("%s: errors %q, want one matching %s", s.name, res.Errors, s.errRe)
			}
			if strings.Join(res.Errors, "\n") != strings.Join(defs.Errors, "\n") || defs.ReloadOK {
				t.Errorf("%s: API errors %q ok=%v, result errors %q", s.name, defs.Errors, defs.ReloadOK, res.Errors)
			}
			if v := rlMetric(t, d.admin, "towerhook_config_last_reload_successful"); v != 0 {
				t.Errorf("%s: last_reload_successful = %v", s.name, v)
			}
		} else if v := rlMetric(t, d.admin, "towerhook_config_last_reload_successful"); v != 1 {
			t.Errorf("%s: last_reload_successful = %v", s.name, v)
		}
	}
	if after := rlDefinitions(t, d.admin).ConfigHash; after != before {
		t.Errorf("same definitions, hash %s then %s", before, after)
	}
}

// TestReloadSIGHUP: a signal on Options.Reload reloads.
func TestReloadSIGHUP(t *testing.T) {
	t.Parallel()
	secrets, setSecret := rlSecrets(t, "alpha")
	hup := make(chan os.Signal, 1)
	d := startDaemon(t, rlSecretHooks(), func(o *Options) {
		o.SecretsDir = secrets
		o.Reload = hup
	})
	if got := rlAnswer(t, d.pub, "rot"); got != "200 first" {
		t.Fatalf("initial answer %q", got)
	}
	rlWatching(t, d)
	setSecret("bravo")
	hup <- syscall.SIGHUP
	eventually(t, rlWait, "SIGHUP to apply the rotated secret", func() bool {
		return rlAnswer(t, d.pub, "rot") == "200 second"
	})
	if last := rlDefinitions(t, d.admin).LastReload; last.Reason != "SIGHUP" || last.Status != "success" {
		t.Errorf("last reload %+v", last)
	}
	unchanged := rlMetric(t, d.admin, `towerhook_config_reloads_total{result="unchanged"}`)
	hup <- syscall.SIGHUP
	eventually(t, rlWait, "SIGHUP without changes to count as unchanged", func() bool {
		return rlMetric(t, d.admin, `towerhook_config_reloads_total{result="unchanged"}`) > unchanged
	})
}

// TestReloadPeriodicRescan: the periodic rescan counts unchanged rescans and
// applies changes no event reports (a rotated secret).
func TestReloadPeriodicRescan(t *testing.T) {
	t.Parallel()
	secrets, setSecret := rlSecrets(t, "alpha")
	d := startDaemon(t, rlSecretHooks(), func(o *Options) {
		o.SecretsDir = secrets
		o.RescanInterval = 200 * time.Millisecond
	})
	start := rlMetric(t, d.admin, `towerhook_config_reloads_total{result="unchanged"}`)
	eventually(t, rlWait, "periodic rescans counted as unchanged", func() bool {
		return rlMetric(t, d.admin, `towerhook_config_reloads_total{result="unchanged"}`) >= start+3
	})
	if v := rlMetric(t, d.admin, `towerhook_config_reloads_total{result="failure"}`); v != 0 {
		t.Errorf("failures = %v", v)
	}
	setSecret("bravo")
	eventually(t, rlWait, "periodic rescan to apply the rotated secret", func() bool {
		return rlAnswer(t, d.pub, "rot") == "200 second"
	})
	if last := rlDefinitions(t, d.admin).LastReload; last.Reason != "periodic" {
		t.Errorf("last reload %+v, want reason periodic", last)
	}
}

// TestReloadRemovedWebhookMetrics: series labelled with a removed webhook or
// authenticator disappear after the reload.
func TestReloadRemovedWebhookMetrics(t *testing.T) {
	t.Parallel()
	goneAuth := strings.Replace(rlAuthYAML, "open", "gone_auth", 2)
	d := startDaemon(t, map[string]string{
		"auth.yaml": rlAuthYAML, "kept.yaml": rlHooks("kept", "k"),
		"gone.yaml": goneAuth + hook("gone", "gone", "gone_auth", "", `result.message = "g"`) +
			hook("gonefail", "gonefail", "gone_auth", "", `error("boom")`),
	}, nil)
	want := map[string]string{"kept": "200 k", "gone": "200 g"}
	if why := rlAnswers(t, d.pub, want); why != "" {
		t.Fatal(why)
	}
	rlAnswer(t, d.pub, "gonefail")
	series := []string{
		`towerhook_http_requests_total{code="200",webhook="gone"}`,
		`towerhook_http_requests_total{code="500",webhook="gonefail"}`,
		`towerhook_http_request_duration_seconds_count{webhook="gone"}`,
		`towerhook_auth_results_total{authenticator="gone_auth",result="allowed"}`,
		`towerhook_lua_duration_seconds_count{kind="webhook",reference="gone"}`,
	}
	text := metricsText(t, d.admin)
	for _, s := range series {
		if !strings.Contains(text, s+" ") {
			t.Errorf("before removal: no series %s", s)
		}
	}
	rlMust(t, os.Remove(filepath.Join(d.dir, "gone.yaml")))
	// Wait through the API, not by calling "gone": a call that straddles
	// the swap is TestReloadInFlightFinishesOnOldTable's business.
	eventually(t, rlWait, "gone to be unloaded", func() bool {
		defs := rlDefinitions(t, d.admin)
		return defs.LastReload.Status == "success" && len(defs.Webhooks) == 1 && defs.Webhooks[0].Reference == "kept"
	})
	if why := rlAnswers(t, d.pub, map[string]string{"kept": "200 k", "gone": "404 Webhook not found"}); why != "" {
		t.Fatal(why)
	}
	text = metricsText(t, d.admin)
	for _, s := range series {
		if strings.Contains(text, s) {
			t.Errorf("after removal: series %s still exported", s)
		}
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, `"gone"`) || strings.Contains(l, `"gonefail"`) || strings.Contains(l, `"gone_auth"`) {
			t.Errorf("after removal: %s", l)
		}
	}
	if !strings.Contains(text, `towerhook_http_requests_total{code="200",webhook="kept"} `) {
		t.Errorf("series of the kept webhook lost")
	}
}

// TestReloadInFlightFinishesOnOldTable: a request in flight when its webhook
// is removed finishes with the old definitions; new requests get 404.
func TestReloadInFlightFinishesOnOldTable(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		io.WriteString(w, "released")
	}))
	defer upstream.Close()
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	d := startDaemon(t, map[string]string{
		"auth.yaml": rlAuthYAML,
		"slow.yaml": "cetmix_tower_yaml_version: 1\nrecords:\n" + hook("slow", "slow", "open", "timeout: 60",
			fmt.Sprintf(`local r = requests.get(%q, {timeout = 60})
result.message = "old " .. r.text`, upstream.URL)),
	}, nil)
	got := make(chan string, 1)
	go func() {
		resp, err := http.Post(d.pub+DefaultPrefix+"slow", "application/json", strings.NewReader("{}"))
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- fmt.Sprintf("%d %s", resp.StatusCode, b)
	}()
	select {
	case <-arrived:
	case <-time.After(rlWait):
		t.Fatal("slow webhook did not call upstream")
	}
	rlMust(t, os.Remove(filepath.Join(d.dir, "slow.yaml")))
	if code, res := rlPostReload(t, d.admin); code != 200 || res.Status != "success" {
		// The watcher may have applied the removal first.
		if res.Status != "unchanged" {
			t.Fatalf("POST /-/reload = %d %+v", code, res)
		}
	}
	if a := rlAnswer(t, d.pub, "slow"); a != "404 Webhook not found" {
		t.Errorf("new request after removal: %q", a)
	}
	close(release)
	select {
	case a := <-got:
		if !strings.HasPrefix(a, "200 ") || !strings.Contains(a, "old released") {
			t.Errorf("in-flight request answered %q", a)
		}
	case <-time.After(rlWait):
		t.Fatal("in-flight request did not finish")
	}
	// Its metric series must not outlive the removal either (they go when
	// the old table's last request is done, just after its answer).
	eventually(t, rlWait, "series of the removed webhook to go", func() bool {
		return !strings.Contains(metricsText(t, d.admin), `webhook="slow"`)
	})
}

// TestReloadUnderLoad: constant traffic while 100 reloads alternate two
// valid sets; no request may fail or get an answer from neither set.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	sets := [2]string{
		rlAuthYAML + strings.TrimPrefix(rlHooks("a", "A1", "b", "B1"), "cetmix_tower_yaml_version: 1\nrecords:\n"),
		rlAuthYAML + strings.TrimPrefix(rlHooks("a", "A2", "b", "B2", "c", "C2"), "cetmix_tower_yaml_version: 1\nrecords:\n"),
	}
	// Allowed answers per endpoint; "c" exists only in the second set.
	allowed := map[string]map[string]bool{
		"a": {"200 A1": true, "200 A2": true},
		"b": {"200 B1": true, "200 B2": true},
		"c": {"200 C2": true, "404 Webhook not found": true},
	}
	d := startDaemon(t, map[string]string{"all.yaml": sets[0]}, func(o *Options) { o.LogSync = false })
	path := filepath.Join(d.dir, "all.yaml")

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}, Timeout: time.Minute}
	defer client.CloseIdleConnections()
	var (
		stop     atomic.Bool
		requests atomic.Int64
		mu       sync.Mutex
		bad      []string
		seen     = map[string]int{}
		started  sync.WaitGroup
		wg       sync.WaitGroup
	)
	report := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		if len(bad) < 20 {
			bad = append(bad, s)
		}
	}
	eps := []string{"a", "b", "c"}
	for g := range 4 {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			first := true
			local := map[string]int{}
			for i := g; !stop.Load(); i++ {
				ep := eps[i%len(eps)]
				resp, err := client.Post(d.pub+DefaultPrefix+ep, "application/json", strings.NewReader("{}"))
				if err != nil {
					report(ep + ": " + err.Error())
				} else {
					var r response
					b, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					r.Status, r.Body = resp.StatusCode, string(b)
					var m map[string]any
					if json.Unmarshal(b, &m) == nil {
						r.Message = m["message"]
					}
					ans := fmt.Sprintf("%d %v", r.Status, r.Message)
					if !allowed[ep][ans] {
						report(fmt.Sprintf("%s: %s (%s)", ep, ans, r.Body))
					}
					local[ans]++
				}
				requests.Add(1)
				if first {
					first = false
					started.Done()
				}
			}
			mu.Lock()
			for k, v := range local {
				seen[k] += v
			}
			mu.Unlock()
		}()
	}
	started.Wait()

	results := map[string]int{}
	for i := 1; i <= 100; i++ {
		rlAtomicWrite(t, path, sets[i%2])
		code, res := rlPostReload(t, d.admin)
		results[res.Status]++
		if code != 200 || (res.Status != "success" && res.Status != "unchanged") {
			t.Errorf("reload %d: %d %+v", i, code, res)
		}
		if got := rlAnswer(t, d.pub, "a"); got != "200 A"+strconv.Itoa(i%2+1) {
			t.Errorf("reload %d: right after POST /-/reload a answers %q", i, got)
		}
	}
	before := requests.Load()
	// Let the traffic see the final set too, then stop.
	eventually(t, rlWait, "more traffic after the last reload", func() bool { return requests.Load() >= before+8 })
	stop.Store(true)
	wg.Wait()
	for _, b := range bad {
		t.Error(b)
	}
	t.Logf("%d requests during 100 reloads; reload results %v; answers %v", requests.Load(), results, seen)
	// Every reload swapped the set (checked through "a" right after each
	// POST); whether the POST or a watcher hint did it is not deterministic.
	if v := rlMetric(t, d.admin, `towerhook_http_requests_total{code="500",webhook="a"}`); v > 0 {
		t.Errorf("%v requests answered 500", v)
	}
}
