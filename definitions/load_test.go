package definitions

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"go.yaml.in/yaml/v3"
)

// noEnv is an empty environment, so tests never see the host's secrets.
var noEnv = []string{}

func mustLoad(t *testing.T, dir string, opts Options) *Set {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = noEnv
	}
	s, err := LoadDir(dir, opts)
	if err != nil {
		t.Fatalf("LoadDir(%s): %v", dir, err)
	}
	return s
}

func refsOf[T any](items []T, ref func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = ref(it)
	}
	return out
}

func webhookRefs(s *Set) []string {
	return refsOf(s.Webhooks(), func(w *Webhook) string { return w.Reference })
}

func authRefs(s *Set) []string {
	return refsOf(s.Authenticators(), func(a *Authenticator) string { return a.Reference })
}

func TestLoadDirGood(t *testing.T) {
	tests := []struct {
		dir      string
		opts     Options
		webhooks []string
		auths    []string
		files    []string
		check    func(t *testing.T, s *Set)
	}{
		{
			dir:      "tower_export",
			opts:     Options{Environ: []string{"TOWERHOOK_SECRET_GITHUB_WEBHOOK_SECRET=s3cr3t"}},
			webhooks: []string{"deploy_app", "status"},
			auths:    []string{"github_signature"},
			files:    []string{"export.yaml"},
			check: func(t *testing.T, s *Set) {
				w, ok := s.Lookup("deploy/app", MethodPost)
				if !ok {
					t.Fatal("deploy/app POST not found")
				}
				a := w.Authenticator
				if a == nil || a.Reference != "github_signature" || w.RunAs != "deploy" || w.Timeout != 30*time.Second ||
					!w.Active || w.ContentType != ContentJSON {
					t.Errorf("deploy_app = %+v", w)
				}
				if got, _ := s.Authenticator("github_signature"); got != a {
					t.Error("Authenticator(github_signature) is not the webhook's authenticator")
				}
				wantIPs := []netip.Prefix{
					netip.MustParsePrefix("192.0.2.10/32"), netip.MustParsePrefix("198.51.100.0/24"),
					netip.MustParsePrefix("2001:db8::/32"), netip.MustParsePrefix("203.0.113.7/32"),
				}
				if !slices.Equal(a.AllowedIPs, wantIPs) || len(a.TrustedProxies) != 0 {
					t.Errorf("ips = %v, proxies = %v", a.AllowedIPs, a.TrustedProxies)
				}
				if a.Line != 9 || a.CodeLine != 16 || w.Line != 3 || w.CodeLine != 35 {
					t.Errorf("lines: auth %d/%d webhook %d/%d", a.Line, a.CodeLine, w.Line, w.CodeLine)
				}
				if !strings.Contains(a.Code, `hmac.new("s3cr3t", raw_data`) || !slices.Equal(a.Secrets, []string{"github_webhook_secret"}) {
					t.Errorf("secret not substituted: %q %v", a.Code, a.Secrets)
				}
				if !slices.Equal(s.SecretValues(), []string{"s3cr3t"}) || len(s.MissingSecrets()) != 0 {
					t.Errorf("SecretValues = %v, MissingSecrets = %v", s.SecretValues(), s.MissingSecrets())
				}
				st, ok := s.Lookup("status", MethodGet)
				if !ok || st.Active || st.ContentType != ContentForm || st.Timeout != 1500*time.Millisecond || st.Authenticator != a {
					t.Errorf("status = %+v", st)
				}
				if _, ok := s.Lookup("status", MethodPost); ok {
					t.Error("status POST should not exist")
				}
			},
		},
		{
			dir:      "reference_forms",
			webhooks: []string{"by_nested_same", "by_pointer", "by_string"},
			auths:    []string{"open"},
			files:    []string{"defs.yml"},
			check: func(t *testing.T, s *Set) {
				open, _ := s.Authenticator("open")
				for _, w := range s.Webhooks() {
					if w.Authenticator != open {
						t.Errorf("%s: authenticator %p, want the single %p", w.Reference, w.Authenticator, open)
					}
				}
				if open.Line != 5 || len(open.AllowedIPs) != 0 {
					t.Errorf("open = %+v", open)
				}
			},
		},
		{
			dir:      "cross_folders",
			opts:     Options{AllowMissingSecrets: true},
			webhooks: []string{"job_status", "run_job"},
			auths:    []string{"bearer_token"},
			files:    []string{"auth/token.yaml", "hooks/also.yml", "hooks/deep/jobs.yaml"},
			check: func(t *testing.T, s *Set) {
				w, _ := s.Lookup("jobs/run", MethodPost)
				if w == nil || w.Reference != "run_job" || w.File != "hooks/deep/jobs.yaml" || w.CodeLine != 9 ||
					!strings.HasPrefix(w.Code, "-- multi-line code\n\nlocal job") {
					t.Errorf("run_job = %+v", w)
				}
				if !slices.Equal(s.MissingSecrets(), []string{"api_token"}) || len(s.SecretValues()) != 0 {
					t.Errorf("MissingSecrets = %v SecretValues = %v", s.MissingSecrets(), s.SecretValues())
				}
				a, _ := s.Authenticator("bearer_token")
				if !strings.Contains(a.Code, `"Bearer " .. "<missing secret api_token>"`) {
					t.Errorf("placeholder missing: %q", a.Code)
				}
			},
		},
		{dir: "explicit_empty_records", files: []string{"no_records.yaml", "unversioned.yaml"}},
		{
			dir:      "authenticator_copies",
			webhooks: []string{"first", "second"},
			auths:    []string{"open"},
			files:    []string{"a.yaml", "b.yaml"},
			check: func(t *testing.T, s *Set) {
				open, _ := s.Authenticator("open")
				if open.File != "a.yaml" || open.Line != 3 {
					t.Errorf("open defined at %s:%d, want the first copy a.yaml:3", open.File, open.Line)
				}
				for _, w := range s.Webhooks() {
					if w.Authenticator != open {
						t.Errorf("%s: authenticator %p, want the single %p", w.Reference, w.Authenticator, open)
					}
				}
			},
		},
		{
			dir:      "folded_code",
			webhooks: []string{"folded", "quoted"},
			auths:    []string{"open"},
			files:    []string{"defs.yaml"},
			check: func(t *testing.T, s *Set) {
				open, _ := s.Authenticator("open")
				folded, _ := s.Lookup("folded", MethodPost)
				quoted, _ := s.Lookup("quoted", MethodPost)
				tests := []struct {
					name     string
					code     string
					codeLine int
					fileLine func(int) int
					wantCode string
					wantLine int
					want     []int // file line of Lua lines 1, 2, ...
				}{
					// Lines 7-8 fold into Lua line 1; the blank line 9 is the break.
					{"open", open.Code, open.CodeLine, open.FileLine,
						"local allowed = true local why = \"folded\"\nresult = {allowed = allowed}\n", 7, []int{7, 10, 10}},
					// More-indented line 18 keeps its breaks; 19 and 20 fold to one break.
					{"folded", folded.Code, folded.CodeLine, folded.FileLine,
						"local t = {\n  1,\n}\nresult = {exit_code = 0}", 17, []int{17, 18, 19, 21, 21}},
					// Escaped line breaks: only the code key's line is known.
					{"quoted", quoted.Code, quoted.CodeLine, quoted.FileLine,
						"local a = 1\nresult = {exit_code = 0}", 27, []int{27, 27}},
				}
				for _, tt := range tests {
					if tt.code != tt.wantCode || tt.codeLine != tt.wantLine {
						t.Errorf("%s: code %q at line %d, want %q at line %d", tt.name, tt.code, tt.codeLine, tt.wantCode, tt.wantLine)
					}
					for i, want := range tt.want {
						if got := tt.fileLine(i + 1); got != want {
							t.Errorf("%s: FileLine(%d) = %d, want %d", tt.name, i+1, got, want)
						}
					}
				}
			},
		},
		{
			dir:      "generated_refs",
			webhooks: []string{"hook_one", "hook_one_2"},
			auths:    []string{"my_auth", "my_auth_2", "my_auth_3", "ncode_"},
			files:    []string{"a.yaml", "b.yaml"},
			check: func(t *testing.T, s *Set) {
				w, _ := s.Lookup("two", MethodPost)
				if w.Reference != "hook_one_2" || w.Authenticator.Name != "My Auth" {
					t.Errorf("two = %+v", w)
				}
				a, _ := s.Authenticator("my_auth")
				if a.Name != "My Auth!" {
					t.Errorf("my_auth name = %q", a.Name)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			s := mustLoad(t, filepath.Join("testdata", "good", tt.dir), tt.opts)
			if got := webhookRefs(s); !slices.Equal(got, tt.webhooks) && (len(got) != 0 || len(tt.webhooks) != 0) {
				t.Errorf("webhooks = %v, want %v", got, tt.webhooks)
			}
			if got := authRefs(s); !slices.Equal(got, tt.auths) && (len(got) != 0 || len(tt.auths) != 0) {
				t.Errorf("authenticators = %v, want %v", got, tt.auths)
			}
			if !slices.Equal(s.Files(), tt.files) {
				t.Errorf("files = %v, want %v", s.Files(), tt.files)
			}
			if len(s.Hash()) != 64 {
				t.Errorf("hash = %q", s.Hash())
			}
			for _, w := range s.Webhooks() {
				if w.Authenticator == nil {
					t.Errorf("%s: nil authenticator", w.Reference)
				}
			}
			if tt.check != nil {
				tt.check(t, s)
			}
		})
	}
}

func TestLoadDirBad(t *testing.T) {
	tests := []struct {
		dir  string
		want []string // one entry per expected error, substring of "file:line: ..."
	}{
		{"bad_active", []string{`defs.yaml:13: hook: active: expected true or false, got "maybe"`}},
		{"bad_allowed_ip", []string{`defs.yaml:6: open: allowed_ip_addresses: invalid IP or CIDR "10.0.0.300"`}},
		{"bad_content_type", []string{`defs.yaml:13: hook: content_type: expected json or form, got "xml"`}},
		{"bad_endpoint", []string{`defs.yaml:11: hook: endpoint "/deploy/app": must start and end with a letter or digit`}},
		{"bad_method", []string{`defs.yaml:12: hook: method: expected post or get, got "put"`}},
		{"bad_proxy_cidr", []string{`defs.yaml:6: open: trusted_proxy_ips: invalid IP or CIDR "2001:db8::/129"`}},
		{"bad_run_as", []string{`defs.yaml:13: hook: run_as: expected a user name, got a mapping`}},
		{"bad_timeout_list", []string{`defs.yaml:13: hook: timeout: expected seconds or a duration such as "30s", got a list`}},
		{"bad_timeout_negative", []string{`defs.yaml:13: hook: timeout: must be positive, got "-5"`}},
		{"bad_timeout_string", []string{`defs.yaml:13: hook: timeout: expected seconds or a duration such as "30s", got "soon"`}},
		{"bad_timeout_zero", []string{`defs.yaml:13: hook: timeout: must be positive, got "0"`}},
		{"comment_only_file", []string{`defs.yaml:1: file is empty`}},
		{"conflicting_authenticator", []string{`b.yaml:7: open: authenticator "open" is already defined at a.yaml:3 with different content`}},
		{"conflicting_webhook", []string{`sub/b.yaml:3: hook: webhook "hook" is already defined at a.yaml:7 with different content`}},
		{"delivery_background_text", []string{`defs.yaml:13: hook: background: expected true or false, got "later"`}},
		{"delivery_concurrency_negative", []string{`defs.yaml:13: hook: concurrency: must be between 1 and 10000, got -1`}},
		{"delivery_concurrency_text", []string{`defs.yaml:13: hook: concurrency: expected an integer, got "many"`}},
		{"delivery_dedup_empty_path", []string{`defs.yaml:13: hook: dedup: payload path "data..id" has an empty part`}},
		{"delivery_dedup_unknown_source", []string{`defs.yaml:13: hook: dedup: unknown source "body" (want header, payload or query)`}},
		{"delivery_queue_latest_inline", []string{`defs.yaml:13: hook: queue: latest needs background: true`}},
		{"delivery_retries_absurd", []string{`defs.yaml:14: hook: retries: must be between 0 and 100, got 1000`}},
		{"delivery_retries_inline", []string{`defs.yaml:13: hook: retries: needs background: true`}},
		{"delivery_retry_delay_too_long", []string{`defs.yaml:15: hook: retry_delay: at most 1h0m0s, got 2h0m0s`}},
		{"delivery_window_negative", []string{`defs.yaml:14: hook: dedup_window: must be positive, got "-1h"`}},
		{"delivery_window_too_long", []string{`defs.yaml:14: hook: dedup_window: 2000h0m0s is longer than the call log retention (30 days)`}},
		{"double_slash_endpoint", []string{`defs.yaml:11: hook: endpoint "deploy//app": must not contain "//"`}},
		{"duplicate_key", []string{`defs.yaml:13: hook: duplicate key "name" (first at line 9)`}},
		{"duplicate_webhook", []string{`a.yaml:7: hook: webhook "hook" is already defined at a copy.yaml:7 (an identical copy: a webhook reference must be unique across the directory)`}},
		{"duplicate_route", []string{`defs.yaml:17: two: endpoint "deploy" with method POST is already used by webhook "one" at defs.yaml:11`}},
		{"empty_file", []string{`blank.yaml:1: file is empty`, `empty.yaml:1: file is empty`}},
		{"empty_pointer", []string{`defs.yaml:10: hook: authenticator_id: a pointer needs a non-empty reference`}},
		{"invalid_reference", []string{`defs.yaml:4: Open-Door: reference "Open-Door" is not valid`}},
		{"invalid_yaml", []string{`defs.yaml:3: invalid YAML: did not find expected ',' or ']'`}},
		{"ip_list_true", []string{`defs.yaml:6: open: allowed_ip_addresses: expected comma-separated IPs or CIDRs or false, got "true"`}},
		{"lua_and_unknown_key", []string{`a.yaml:13: hook: unknown key "enpoint"`, `b.yaml:9: other: lua syntax error: syntax error near '=' (lua line 1)`}},
		{"lua_compile", []string{`defs.yaml:14: hook: lua syntax error: cannot use '...' outside a vararg function (lua line 2)`}},
		{"lua_folded", []string{
			`defs.yaml:10: folded: lua syntax error: syntax error near '=' (lua line 2)`,
			`defs.yaml:21: more_indented: lua syntax error: syntax error near '=' (lua line 6)`,
			// An indentation indicator defeats the line mapping: the code key's line.
			`defs.yaml:26: indent_indicator: lua syntax error: syntax error near '=' (lua line 2)`,
		}},
		{"lua_goto", []string{
			`defs.yaml:8: goto_nowhere: lua syntax error: no visible label 'nowhere' for <goto> at line 2 (lua line 2)`,
			`defs.yaml:16: duplicate_label: lua syntax error: label 'again' already defined on line 1 (lua line 3)`,
			`defs.yaml:21: into_scope: lua syntax error: <goto skip> at line 1 jumps into the scope of local 'v' (lua line 1)`,
		}},
		{"lua_quoted", []string{
			`defs.yaml:6: escaped: lua syntax error: syntax error near '=' (lua line 3)`,
			`defs.yaml:11: plain: lua syntax error: syntax error near '=' (lua line 1)`,
		}},
		{"lua_syntax", []string{`defs.yaml:16: hook: lua syntax error: syntax error near 'end' (lua line 4)`}},
		{"missing_authenticator", []string{`defs.yaml:7: hook: missing required key "authenticator_id"`}},
		{"missing_code", []string{`defs.yaml:7: hook: missing required key "code"`}},
		{"missing_endpoint", []string{`defs.yaml:7: hook: missing required key "endpoint"`}},
		{"missing_model", []string{`defs.yaml:3: x: missing cetmix_tower_model`}},
		{"missing_name", []string{`defs.yaml:3: open: missing required key "name"`}},
		{"multi_doc", []string{`defs.yaml:2: more than one YAML document in a file is not supported`}},
		{"nested_wrong_model", []string{`defs.yaml:6: authenticator_id: nested record has cetmix_tower_model "webhook", want "webhook_authenticator"`}},
		{"null_document", []string{`defs.yaml:2: records: missing (write "records: []" for a file with no records on purpose)`}},
		{"record_not_mapping", []string{`defs.yaml:3: record: expected a mapping, got "just a string"`}},
		{"records_not_list", []string{`defs.yaml:2: records: expected a list, got "nope"`}},
		{"records_null", []string{`defs.yaml:2: records: empty (write "records: []" for a file with no records on purpose)`}},
		{"route_across_files", []string{`b.yaml:7: b: endpoint "same" with method GET is already used by webhook "a" at a.yaml:11`}},
		{"top_not_mapping", []string{`defs.yaml:1: expected a mapping with cetmix_tower_yaml_version and records, got a list`}},
		{"unknown_authenticator", []string{`defs.yaml:10: hook: authenticator_id: unknown authenticator "closed"`}},
		{"unknown_key", []string{`defs.yaml:13: hook: unknown key "enpoint"`}},
		{"unknown_top_key", []string{`defs.yaml:1: records: missing`, `defs.yaml:2: unknown key "recrods"`}},
		{"unresolved_secret", []string{`defs.yaml:13: hook: unresolved secret "missing_token"`}},
		{"unsupported_model", []string{`defs.yaml:3: list_dir: unsupported model "command"`}},
		{"version_not_int", []string{`defs.yaml:1: cetmix_tower_yaml_version: expected an integer, got "one"`}},
		{"version_only", []string{`defs.yaml:1: records: missing (write "records: []" for a file with no records on purpose)`}},
		{"version_too_high", []string{`defs.yaml:1: YAML version is higher than version supported by your Cetmix Tower instance. 2 > 1`}},
	}
	dirs, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.dir] = true
	}
	for _, d := range dirs {
		if !listed[d.Name()] {
			t.Errorf("testdata/bad/%s has no entry in the table", d.Name())
		}
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			s, err := LoadDir(filepath.Join("testdata", "bad", tt.dir), Options{Environ: noEnv, RetentionDays: 30})
			if s != nil {
				t.Error("a partial set was returned")
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("err = %v (%T), want Errors", err, err)
			}
			if len(errs) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, want := range tt.want {
				if i < len(errs) && !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want it to contain %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

// TestSkipCodeCheckSameErrors: a load that fails reports the same errors,
// in the same order, with or without SkipCodeCheck (the daemon's reloads
// skip the check, validate reports what they report); only a directory
// whose sole errors are Lua syntax errors loads without the check (the
// caller's compile step reports them).
func TestSkipCodeCheckSameErrors(t *testing.T) {
	dirs, err := os.ReadDir(filepath.Join("testdata", "bad"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata", "bad", d.Name())
			_, checked := LoadDir(dir, Options{Environ: noEnv, RetentionDays: 30})
			_, skipped := LoadDir(dir, Options{Environ: noEnv, SkipCodeCheck: true, RetentionDays: 30})
			if skipped == nil {
				if !strings.HasPrefix(d.Name(), "lua_") || d.Name() == "lua_and_unknown_key" {
					t.Errorf("loads without the code check; with it: %v", checked)
				}
				return
			}
			if skipped.Error() != checked.Error() {
				t.Errorf("with SkipCodeCheck:\n%v\nwithout:\n%v", skipped, checked)
			}
		})
	}
}

// writeFiles creates files (slash paths relative to dir) with their contents.
func writeFiles(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

const authYAML = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: %s
  name: %s
  code: |
    %s
`

func TestAllErrorsSorted(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"b.yaml":     "cetmix_tower_yaml_version: 2\nrecords: []\n",
		"a/z.yaml":   fmt.Sprintf(authYAML, "x", "X", "result = {") + "  bogus: 1\n",
		"a/y.yml":    "records: {}\n",
		"c.txt":      "not read",
		".git/x.yml": "not: [read",
	})
	_, err := LoadDir(dir, Options{Environ: noEnv})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%s:%d", e.File, e.Line))
	}
	want := []string{"a/y.yml:1", "a/z.yaml:7", "a/z.yaml:8", "b.yaml:1"}
	if !slices.Equal(got, want) {
		t.Errorf("error places = %v, want %v\n%v", got, want, err)
	}
}

func TestEmptyAndMissingDir(t *testing.T) {
	s := mustLoad(t, t.TempDir(), Options{})
	if len(s.Webhooks())+len(s.Authenticators())+len(s.Files()) != 0 || s.Files() == nil || s.Hash() == "" {
		t.Errorf("empty set = %+v", s)
	}
	if _, err := LoadDir(filepath.Join(t.TempDir(), "nope"), Options{}); err == nil {
		t.Error("missing directory: no error")
	}
}

func TestConfigMapLayout(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"..2024_01_01_00_00_00.1/auth.yaml": fmt.Sprintf(authYAML, "a", "A", "result = {allowed = true}"),
		"..2024_01_01_00_00_00.1/old.yaml":  "not: [valid",
		"other/x.yaml":                      fmt.Sprintf(authYAML, "b", "B", "result = {allowed = true}"),
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink("..2024_01_01_00_00_00.1", filepath.Join(dir, "..data")))
	must(os.Symlink("..data/auth.yaml", filepath.Join(dir, "auth.yaml")))
	// old.yaml is in the snapshot but not linked: kubelet only links current keys,
	// yet reading through ..data shows the snapshot as it is.
	must(os.Remove(filepath.Join(dir, "..2024_01_01_00_00_00.1", "old.yaml")))
	// A symlinked folder and a file elsewhere are followed.
	must(os.Symlink(filepath.Join(dir, "other"), filepath.Join(dir, "..2024_01_01_00_00_00.1", "linked")))
	s := mustLoad(t, dir, Options{})
	if got := authRefs(s); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("authenticators = %v", got)
	}
	if !slices.Equal(s.Files(), []string{"auth.yaml", "linked/x.yaml"}) {
		t.Errorf("files = %v", s.Files())
	}
}

func TestSymlinkLoop(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"sub/a.yaml": fmt.Sprintf(authYAML, "a", "A", "result = {}")})
	if err := os.Symlink("..", filepath.Join(dir, "sub", "loop")); err != nil {
		t.Fatal(err)
	}
	s := mustLoad(t, dir, Options{})
	if len(s.Authenticators()) != 1 {
		t.Errorf("authenticators = %v, files = %v", authRefs(s), s.Files())
	}
}

func TestSecrets(t *testing.T) {
	tricky := "q\"uo'te\\back]]\x00nul\r\nline\ttab\x7f\xff\xfe é ☃"
	secrets := t.TempDir()
	writeFiles(t, secrets, map[string]string{
		"tricky":    tricky + "\n",
		"crlf":      "windows\r\n",
		"two_lines": "keep\n\n",
		"empty":     "",
		".hidden":   "never",
	})
	// Kubernetes Secret mounts are symlinks into ..data.
	if err := os.Symlink("tricky", filepath.Join(secrets, "linked")); err != nil {
		t.Fatal(err)
	}
	code := `result = {
  a = #!cxtower.secret.tricky!#, b = #!cxtower.secret.crlf!#,
  c = #!cxtower.secret.two_lines!#, d = #!cxtower.secret.from-env.x!#,
  e = #!cxtower.secret.empty!#, f = #!cxtower.secret.linked!#,
  g = #!cxtower.secret.tricky!#, h = #!cxtower.secret.file_wins!#,
}`
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": fmt.Sprintf(authYAML, "a", "A", strings.ReplaceAll(code, "\n", "\n    "))})
	writeFiles(t, secrets, map[string]string{"file_wins": "file"})
	s := mustLoad(t, dir, Options{SecretsDir: secrets, Environ: []string{
		"TOWERHOOK_SECRET_FROM_ENV_X=env=value", "TOWERHOOK_SECRET_FILE_WINS=env",
	}})
	a, _ := s.Authenticator("a")
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	if err := L.DoString(a.Code); err != nil {
		t.Fatalf("substituted code does not run: %v", err)
	}
	want := map[string]string{
		"a": tricky, "b": "windows", "c": "keep\n", "d": "env=value", "e": "", "f": tricky, "g": tricky, "h": "file",
	}
	res := L.GetGlobal("result").(*lua.LTable)
	for k, v := range want {
		if got := res.RawGetString(k).String(); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if got, want := s.SecretValues(), []string{tricky, "env=value", "windows", "keep\n", "file"}; !slices.Equal(got, want) {
		t.Errorf("SecretValues = %q, want %q", got, want)
	}
	if want := []string{"crlf", "empty", "file_wins", "from-env.x", "linked", "tricky", "two_lines"}; !slices.Equal(a.Secrets, want) {
		t.Errorf("Secrets = %v", a.Secrets)
	}
	if strings.Count(a.Code, "\n") != strings.Count(code, "\n")+1 {
		t.Error("substitution changed the number of lines")
	}

	// A hidden file is never a secret; an unresolved secret is an error.
	writeFiles(t, dir, map[string]string{"a.yaml": fmt.Sprintf(authYAML, "a", "A", "result = #!cxtower.secret..hidden!#")})
	_, err := LoadDir(dir, Options{SecretsDir: secrets, Environ: noEnv})
	if err == nil || !strings.Contains(err.Error(), `a.yaml:7: a: unresolved secret ".hidden"`) || strings.Contains(err.Error(), "never") {
		t.Errorf("err = %v", err)
	}
}

func TestSecretValuesNeverInErrors(t *testing.T) {
	values := []string{"hunter2-very-secret", "with \"quote\" and \\", "multi\nline\nsecret", "\x01\x02bin"}
	for i, v := range values {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			// Two adjacent string literals: the parser complains about the secret token.
			writeFiles(t, dir, map[string]string{
				"a.yaml": fmt.Sprintf(authYAML, "a", "A", "x = #!cxtower.secret.s!# #!cxtower.secret.s!#\n    y = ("),
			})
			_, err := LoadDir(dir, Options{Environ: []string{"TOWERHOOK_SECRET_S=" + v}})
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, v) || strings.Contains(msg, LuaString(v)) || strings.Contains(msg, LuaString(v)[1:len(LuaString(v))-1]) {
				t.Errorf("error leaks the secret: %q", msg)
			}
			if !strings.Contains(msg, "a.yaml:7: a: lua syntax error") {
				t.Errorf("err = %q", msg)
			}
		})
	}
}

func TestLuaStringRoundTrip(t *testing.T) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	for _, s := range []string{"", "plain", `"`, `\`, "\\\"", "\x00", "a\x001", "]]", "\n\r", "\\ddd\\065", "é☃", string(all)} {
		if err := L.DoString("v = " + LuaString(s)); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := L.GetGlobal("v").String(); got != s {
			t.Errorf("round trip %q = %q", s, got)
		}
		if strings.ContainsAny(LuaString(s), "\n\r") {
			t.Errorf("literal for %q spans lines", s)
		}
	}
}

func TestSecretEnvName(t *testing.T) {
	for in, want := range map[string]string{"github_token": "TOWERHOOK_SECRET_GITHUB_TOKEN", "a.b-c9": "TOWERHOOK_SECRET_A_B_C9"} {
		if got := SecretEnvName(in); got != want {
			t.Errorf("SecretEnvName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParsePrefix(t *testing.T) {
	tests := []struct {
		in, want string // want "" = invalid
	}{
		{"10.0.0.1", "10.0.0.1/32"},
		{"10.0.0.1/24", "10.0.0.0/24"},
		{"2001:db8::1", "2001:db8::1/128"},
		{"2001:DB8::/32", "2001:db8::/32"},
		{"::ffff:192.0.2.1", "192.0.2.1/32"},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24"},
		{"0.0.0.0/0", "0.0.0.0/0"},
		{"::/0", "::/0"},
		{"fe80::1%eth0", ""},
		{"10.0.0.256", ""},
		{"10.0.0.0/33", ""},
		{"host.example", ""},
		{"10.0.0.1/", ""},
	}
	for _, tt := range tests {
		p, ok := parsePrefix(tt.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tt.want {
			t.Errorf("parsePrefix(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFixReference(t *testing.T) {
	for in, want := range map[string]string{
		"GitHub signature": "github_signature", "  Deploy-App  ": "deployapp", "a  b": "a__b",
		"Ünïcode": "ncode", "": "", "ALL_CAPS_9": "all_caps_9",
	} {
		if got := fixReference(in); got != want {
			t.Errorf("fixReference(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTimeoutForms(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"30", 30 * time.Second}, {"2.5", 2500 * time.Millisecond}, {`"30s"`, 30 * time.Second},
		{"1m30s", 90 * time.Second}, {`"15"`, 15 * time.Second}, {"~", 0}, {"0x10", 16 * time.Second},
	}
	for _, tt := range tests {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"a.yaml": fmt.Sprintf(authYAML, "a", "A", "result = {}") +
			"- cetmix_tower_model: webhook\n  name: W\n  authenticator_id: a\n  endpoint: w\n  code: x = 1\n  timeout: " + tt.in + "\n"})
		s := mustLoad(t, dir, Options{})
		if got := s.Webhooks()[0].Timeout; got != tt.want {
			t.Errorf("timeout %s = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSingleRecordFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": "cetmix_tower_yaml_version: 1\ncetmix_tower_model: webhook_authenticator\nreference: solo\nname: Solo\ncode: result = {}\n"})
	s := mustLoad(t, dir, Options{})
	if got := authRefs(s); !slices.Equal(got, []string{"solo"}) {
		t.Errorf("authenticators = %v", got)
	}
}

func TestHash(t *testing.T) {
	src := filepath.Join("testdata", "good", "tower_export", "export.yaml")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	load := func(files map[string]string, secret string) string {
		t.Helper()
		dir := t.TempDir()
		writeFiles(t, dir, files)
		return mustLoad(t, dir, Options{Environ: []string{"TOWERHOOK_SECRET_GITHUB_WEBHOOK_SECRET=" + secret}}).Hash()
	}
	const none = "records: []\n"
	base := load(map[string]string{"export.yaml": string(data), "z.yaml": none}, "one")
	if again := load(map[string]string{"z.yaml": none, "export.yaml": string(data)}, "one"); again != base {
		t.Error("hash differs across identical loads")
	}
	if other := load(map[string]string{"export.yaml": string(data), "z.yaml": none}, "two"); other == base {
		t.Error("hash ignores secret values")
	}
	changed := strings.Replace(string(data), "timeout: 30", "timeout: 31", 1)
	if other := load(map[string]string{"export.yaml": changed, "z.yaml": none}, "one"); other == base {
		t.Error("hash ignores content")
	}
}

func TestConcurrentLoadsDeterministic(t *testing.T) {
	dir := t.TempDir()
	genTree(t, dir, 20, 5, 10)
	opts := Options{Environ: []string{"TOWERHOOK_SECRET_SHARED_KEY=k"}}
	first := mustLoad(t, dir, opts)
	for range 3 {
		s := mustLoad(t, dir, opts)
		if s.Hash() != first.Hash() || !slices.Equal(webhookRefs(s), webhookRefs(first)) {
			t.Fatal("loads differ")
		}
	}
}

func TestLuaErrorLine(t *testing.T) {
	tests := []struct {
		name string
		code string
		line int    // Lua line reported
		msg  string // gopher-lua's message
	}{
		// gopher-lua reports these at the end of the chunk (past the code).
		{"goto in main chunk", "local n = 1\ngoto nowhere\nx = 1\n", 2, "no visible label 'nowhere' for <goto> at line 2"},
		{"goto on last line", "x = 1\ngoto nowhere", 2, "no visible label 'nowhere' for <goto> at line 2"},
		// ... or at the end of the enclosing function.
		{"goto in function", "function f()\n  goto nowhere\n\nend\nx = 1\n", 2, "no visible label 'nowhere' for <goto> at line 2"},
		// gopher-lua reports the line after the label.
		{"goto into scope", "goto skip\nlocal v = 1\n::skip::\nprint(v)\n", 1, "<goto skip> at line 1 jumps into the scope of local 'v'"},
		{"duplicate label", "::a::\nx = 1\n::a::", 3, "label 'a' already defined on line 1"},
		{"duplicate label in block", "do\n  ::a::\n  ::a::\nend\n", 3, "label 'a' already defined on line 2"},
		{"break", "x = 1\n\nbreak\n", 3, "no loop to break"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := checkLua(tt.code, "test")
			if p == nil {
				t.Fatal("no error")
			}
			if p.line != tt.line || p.msg != tt.msg {
				t.Errorf("checkLua = line %d %q, want line %d %q", p.line, p.msg, tt.line, tt.msg)
			}
		})
	}
	// The line named in the message only counts when it is in the code;
	// any line is clamped to the code's non-blank lines.
	direct := []struct {
		msg        string
		line, want int
	}{
		{"no visible label 'x' for <goto> at line 9", 2, 2},
		{"no visible label 'x' for <goto> at line 0", 2, 2},
		{"no visible label 'x' for <goto> at line 3", 5, 3},
		{"syntax error", 7, 3},
		{"syntax error", 0, 1},
		{"label 'a' already defined on line 1", 1, 1},
	}
	for _, tt := range direct {
		if got := LuaErrorLine(tt.msg, tt.line, "a\nb\nc\n\n  \n"); got != tt.want {
			t.Errorf("LuaErrorLine(%q, %d) = %d, want %d", tt.msg, tt.line, got, tt.want)
		}
	}
}

// TestFoldedStartsMatchesYAML checks the folding replay against yaml.v3 on
// random folded blocks: the replay must reproduce the value, and every Lua
// line must start with the text of the file line it is mapped to.
func TestFoldedStartsMatchesYAML(t *testing.T) {
	pieces := []string{"", "", "  ", "x = 1", "y = 2", "  more()", "    deeper()", "\tt = 1", "end   ", "-- c # d"}
	rnd := rand.New(rand.NewPCG(1, 2))
	checked, folds := 0, 0
	for i := range 2000 {
		var lines []string
		for range 1 + rnd.IntN(8) {
			lines = append(lines, pieces[rnd.IntN(len(pieces))])
		}
		header := []string{">", ">-", ">+", "> # comment"}[rnd.IntN(4)]
		body := ""
		for _, l := range lines {
			if strings.TrimSpace(l) == "" {
				body += l + "\n"
			} else {
				body += "    " + l + "\n"
			}
		}
		doc := "records:\n- code: " + header + "\n" + body + "  name: n\n"
		if rnd.IntN(2) == 0 {
			doc = strings.ReplaceAll(doc, "\n", "\r\n")
		}
		var n yaml.Node
		if err := yaml.Unmarshal([]byte(doc), &n); err != nil {
			continue // e.g. a tab where indentation is expected
		}
		code := n.Content[0].Content[1].Content[0].Content[1]
		if strings.TrimSpace(code.Value) == "" {
			continue
		}
		src := &source{name: "f.yaml", data: []byte(doc)}
		starts := foldedStarts(src, code.Line, code.Value)
		if starts == nil {
			t.Fatalf("case %d: no mapping for %q (value %q)", i, doc, code.Value)
		}
		file := src.lines()
		luaLines := strings.Split(code.Value, "\n")
		checked++
		if strings.Contains(code.Value, "1 y") || strings.Contains(code.Value, "2 x") {
			folds++
		}
		for k, l := range luaLines {
			if k >= len(starts) {
				if strings.TrimSpace(strings.Join(luaLines[k:], "")) != "" {
					t.Fatalf("case %d: Lua line %d of %q is not mapped (starts %v)", i, k+1, code.Value, starts)
				}
				break
			}
			text := strings.TrimLeft(file[starts[k]-1], " ")
			if l != "" && !strings.HasPrefix(strings.TrimLeft(l, " "), text) {
				t.Fatalf("case %d: Lua line %d %q mapped to file line %d %q\n%s", i, k+1, l, starts[k], file[starts[k]-1], doc)
			}
		}
	}
	if checked < 1000 || folds < 50 {
		t.Errorf("only %d blocks checked, %d with folded lines", checked, folds)
	}
}
