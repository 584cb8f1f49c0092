package daemon

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestReloadErrorsMatchValidate (issue 16, defect 10): a failed reload
// reports every error validate reports, identically, in the daemon log,
// the answer of POST /-/reload and GET /api/v1/definitions: an unknown key
// in one file does not hide a Lua syntax error in another.
func TestReloadErrorsMatchValidate(t *testing.T) {
	t.Parallel()
	good := map[string]string{"auth.yaml": rlAuthYAML, "a.yaml": rlHooks("a", "a1"), "b.yaml": rlHooks("b", "b1")}
	tests := []struct {
		name  string
		files map[string]string
		want  []string // regexps, one per reported error, in order
	}{
		{
			name: "unknown key and lua syntax error in two files",
			files: map[string]string{
				"a.yaml": strings.Replace(rlHooks("a", "a2"), "  name: a\n", "  name: a\n  endpont: typo\n", 1),
				"b.yaml": rlHooks("b", "b2") + hook("lua_bad", "lua_bad", "open", "", "result = = 1"),
			},
			want: []string{`^a\.yaml:\d+: a: unknown key "endpont"$`, `^b\.yaml:\d+: lua_bad: lua syntax error: .*\(lua line 1\)$`},
		},
		{
			name: "lua syntax errors only",
			files: map[string]string{
				"b.yaml": rlHooks("b", "b2") + hook("lua_bad", "lua_bad", "open", "", "local x = 1\nresult = = 1"),
			},
			want: []string{`^b\.yaml:\d+: lua_bad: lua syntax error: .*\(lua line 2\)$`},
		},
		{
			name: "unknown authenticator and lua error in the same record",
			files: map[string]string{
				"a.yaml": strings.Replace(rlHooks("a", "a2"), "authenticator_id: open", "authenticator_id: nobody", 1) +
					hook("lua_bad", "lua_bad", "open", "", "if then"),
			},
			want: []string{`^a\.yaml:\d+: a: authenticator_id: unknown authenticator "nobody"$`, `^a\.yaml:\d+: lua_bad: lua syntax error: `},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var logw logBuffer
			d := startDaemonLogged(t, good, nil, &logw)
			writeFiles(t, d.dir, tt.files)

			code, res := rlPostReload(t, d.admin)
			if code != 500 || res.Status != "failure" {
				t.Fatalf("POST /-/reload = %d %+v, want 500 failure", code, res)
			}
			var logged []string
			for _, e := range logw.entries("definitions error") {
				if e["reason"] == "admin API" {
					logged = append(logged, fmt.Sprint(e["error"]))
				}
			}
			defs := rlDefinitions(t, d.admin)

			var stdout, stderr bytes.Buffer
			if rc := Validate(ValidateOptions{Dir: d.dir}, &stdout, &stderr); rc != 1 {
				t.Fatalf("validate exit %d, stdout %q", rc, stdout.String())
			}
			var validated []string
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				if strings.HasSuffix(l, " error(s)") {
					continue
				}
				validated = append(validated, strings.TrimPrefix(l, filepath.ToSlash(d.dir)+"/"))
			}

			if len(validated) != len(tt.want) {
				t.Fatalf("validate reports %d errors, want %d:\n%s", len(validated), len(tt.want), strings.Join(validated, "\n"))
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(validated[i]) {
					t.Errorf("validate error %d = %q, want it to match %s", i, validated[i], re)
				}
			}
			for _, got := range []struct {
				where string
				errs  []string
			}{{"POST /-/reload", res.Errors}, {"GET /api/v1/definitions", defs.Errors}, {"daemon log", logged}} {
				if !slices.Equal(got.errs, validated) {
					t.Errorf("%s reports\n  %q\nvalidate reports\n  %q", got.where, got.errs, validated)
				}
			}
		})
	}
}
