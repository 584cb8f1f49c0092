package definitions

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func decodeTestdata(t *testing.T, name string) (*TestFile, Errors) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "tests", name))
	if err != nil {
		t.Fatal(err)
	}
	return DecodeTestFile(name, data)
}

func TestDecodeTestFileGood(t *testing.T) {
	tf, errs := decodeTestdata(t, "good/full_test.yaml")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(tf.Tests) != 3 {
		t.Fatalf("got %d tests", len(tf.Tests))
	}
	a := tf.Tests[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"name", a.Name, "push to main is accepted"},
		{"webhook", a.Webhook, "github_events"},
		{"webhook line", a.WebhookLine, 4},
		{"now", a.Now, time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)},
		{"secrets", a.Secrets, map[string]string{"github_webhook_secret": "test-secret"}},
		{"method", a.Request.Method, "POST"},
		{"headers", a.Request.Headers, []KV{{"X-GitHub-Event", "push"}, {"X-Zero", "0"}}},
		{"json body keeps key order and types", string(a.Request.Body),
			`{"ref":"refs/heads/main","n":1,"f":1.5,"ok":true,"none":null,"list":["a",2],"html":"<a&b>"}`},
		{"body kind", a.Request.BodyKind, "json"},
		{"query", EncodeQuery(a.Request.Query), "a=1&b=x+y"},
		{"remote addr", a.Request.RemoteAddr, "192.0.2.10"},
		{"sign line", a.Request.SignFileLine(1), 14},
		{"mock 1", a.Mocks.Requests[0], HTTPMock{Line: 17, Method: "POST", URL: "https://chat.example.com/hook", Status: 201,
			Headers: map[string]string{"Content-Type": "application/json"}, Body: `{"ok":true}`}},
		{"mock 2", a.Mocks.Requests[1], HTTPMock{Line: 18, URL: "https://down.example.com/", Status: 200, Error: "connection refused"}},
		{"proc mock", a.Mocks.Subprocess[0], ProcMock{Line: 20, Argv: []string{"/usr/local/bin/deploy", "main"}, Stdout: "ok\n"}},
		{"status", a.Expect.Status, 200},
		{"status line", a.Expect.LineOf("status"), 22},
		{"message", *a.Expect.Message, "push on acme/app"},
		{"authentication", a.Expect.Authentication, "success"},
		{"log lines", a.Expect.LogLinesContain, []string{"deploying main"}},
		{"expect requests", a.Expect.Requests[0].JSON, []byte(`{"text":"deployed"}`)},
		{"expect request headers", a.Expect.Requests[0].Headers, map[string]string{"Content-Type": "application/json"}},
		{"expect subprocess", a.Expect.Subprocess[0].Env, map[string]string{"A": "b"}},
		{"form body", string(tf.Tests[1].Request.Body), "command=%2Fdeploy&text=a%26b"},
		{"unix now", tf.Tests[1].Now, time.Unix(1772366400, 0).UTC()},
		{"regex", tf.Tests[1].Expect.MessageRegex.String(), "^deploy"},
		{"plain body", string(tf.Tests[2].Request.Body), "not json"},
		{"JSON message", string(tf.Tests[2].Expect.MessageJSON), `{"released":"v1.2.3"}`},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %#v, want %#v", c.what, c.got, c.want)
		}
	}
}

func TestDecodeTestFileBad(t *testing.T) {
	tests := []struct {
		name string
		want []string // error texts, in order
	}{
		{"yaml_error", []string{`yaml_error_test.yaml:3: invalid YAML: did not find expected ',' or ']'`}},
		{"unknown_key", []string{`unknown_key_test.yaml:6: expect: unknown key "stauts"`}},
		{"unknown_top_key", []string{`unknown_top_key_test.yaml:2: unknown key "test"`, `unknown_top_key_test.yaml:1: tests: expected a non-empty list`}},
		{"missing_webhook", []string{`missing_webhook_test.yaml:3: test "a": missing required key "webhook"`}},
		{"missing_name", []string{`missing_name_test.yaml:3: test: missing required key "name"`}},
		{"missing_version", []string{`missing_version_test.yaml:1: missing towerhook_test_version (write "towerhook_test_version: 1")`}},
		{"version_too_high", []string{`version_too_high_test.yaml:1: towerhook_test_version: unsupported version 2`}},
		{"empty", []string{`empty_test.yaml:1: file is empty`}},
		{"no_tests", []string{`no_tests_test.yaml:2: tests: expected a non-empty list of tests`}},
		{"duplicate_name", []string{`duplicate_name_test.yaml:5: test "a": the name is already used at line 3`}},
		{"two_bodies", []string{`two_bodies_test.yaml:7: request: json and body: give one body`}},
		{"bad_status", []string{`bad_status_test.yaml:6: expect.status: expected an integer from 100 to 599, got "ok"`}},
		{"bad_regex", []string{`bad_regex_test.yaml:6: expect.message_regex: error parsing regexp: missing closing )`}},
		{"bad_now", []string{`bad_now_test.yaml:5: now: expected an RFC 3339 time`}},
		{"bad_method", []string{`bad_method_test.yaml:6: request.method: expected GET or POST, got "PUT"`}},
		{"bad_remote_addr", []string{`bad_remote_addr_test.yaml:6: request.remote_addr: expected an IP address, got "somewhere"`}},
		{"bad_authentication", []string{`bad_authentication_test.yaml:6: expect.authentication: expected success, failed or not_required, got "yes please"`}},
		{"sign_syntax", []string{`sign_syntax_test.yaml:8: request.sign: lua syntax error: `}},
		{"mock_without_url", []string{`mock_without_url_test.yaml:7: mocks.requests: missing required key "url"`}},
		{"mock_without_argv", []string{`mock_without_argv_test.yaml:7: mocks.subprocess: missing required key "argv"`}},
		{"message_and_regex", []string{`message_and_regex_test.yaml:6: expect: message and message_regex: give one`}},
		{"headers_not_mapping", []string{`headers_not_mapping_test.yaml:6: request.headers: expected a mapping, got a list`}},
		{"test_not_mapping", []string{`test_not_mapping_test.yaml:3: test: expected a mapping, got "just a string"`}},
	}
	files, _ := os.ReadDir(filepath.Join("testdata", "tests", "bad"))
	if len(files) != len(tests) {
		t.Errorf("testdata/tests/bad has %d files, the table %d", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "tests", "bad", tt.name+"_test.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			_, errs := DecodeTestFile(tt.name+"_test.yaml", data)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), errs)
			}
			for i, want := range tt.want {
				if got := errs[i].Error(); !strings.HasPrefix(got, want) {
					t.Errorf("error %d:\n got %s\nwant %s...", i, got, want)
				}
			}
		})
	}
}

// TestDecodeTestFileAliasBomb: aliases that repeat each other cannot make
// a test's JSON grow without end.
func TestDecodeTestFileAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("towerhook_test_version: 1\nx0: &a0 [\"" + strings.Repeat("x", 64) + "\"]\n")
	for i := 1; i < 40; i++ {
		fmt.Fprintf(&b, "x%d: &a%d [*a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1)
	}
	b.WriteString("tests:\n- {name: a, webhook: x, request: {json: *a39}}\n")
	_, errs := DecodeTestFile("bomb_test.yaml", []byte(b.String()))
	found := false
	for _, e := range errs {
		found = found || strings.Contains(e.Msg, "request.json: larger than 4 MiB")
	}
	if !found {
		t.Errorf("errors: %v", errs)
	}
}

func TestDecodeMockFile(t *testing.T) {
	m, errs := DecodeMockFile("m.yaml", []byte("mocks:\n  requests:\n  - {url: 'http://x/', status: 204}\n"))
	if len(errs) > 0 || len(m.Requests) != 1 || m.Requests[0].Status != 204 {
		t.Fatalf("got %+v %v", m, errs)
	}
	_, errs = DecodeMockFile("m.yaml", []byte("mocks:\n  request: []\n"))
	if len(errs) != 1 || errs[0].Error() != `m.yaml:2: mocks: unknown key "request"` {
		t.Fatalf("got %v", errs)
	}
}

func TestLoadTestsSkipsBrokenFilesAndDefinitionsSkipTests(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hooks.yaml", "cetmix_tower_yaml_version: 1\nrecords: []\n")
	write("a/good_test.yaml", "towerhook_test_version: 1\ntests:\n- {name: a, webhook: x}\n")
	write("b/bad_test.yml", "towerhook_test_version: 1\ntests:\n- {name: a}\n")
	write(".hidden/c_test.yaml", "broken")
	files, errs := LoadTests(dir)
	if len(files) != 1 || files[0].File != "a/good_test.yaml" || len(errs) != 1 || !strings.HasPrefix(errs[0].Error(), "b/bad_test.yml:3:") {
		t.Fatalf("files %v, errors %v", files, errs)
	}
	set, err := LoadDir(dir, Options{Environ: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Files(); !reflect.DeepEqual(got, []string{"hooks.yaml"}) {
		t.Errorf("definitions files = %v, want only hooks.yaml", got)
	}
}

func TestResolveSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "from_dir"), []byte("dir-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	opts := Options{SecretsDir: dir, Environ: []string{"TOWERHOOK_SECRET_FROM_ENV=env-value", "TOWERHOOK_SECRET_GIVEN=env"},
		Secrets: map[string]string{"given": "test-value"}, AllowMissingSecrets: true}
	got := ResolveSecrets([]string{"from_dir", "from_env", "given", "missing"}, opts)
	want := map[string]string{"from_dir": "dir-value", "from_env": "env-value", "given": "test-value", "missing": "<missing secret missing>"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func FuzzDecodeTestFile(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		entries, _ := os.ReadDir(filepath.Join("testdata", "tests", dir))
		for _, e := range entries {
			if data, err := os.ReadFile(filepath.Join("testdata", "tests", dir, e.Name())); err == nil {
				f.Add(data)
			}
		}
	}
	f.Add([]byte("towerhook_test_version: 1\ntests:\n- &t {name: a, webhook: x, request: {json: *t}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, errs := DecodeTestFile("f_test.yaml", data)
		for _, e := range errs {
			if e.Line < 0 || e.File != "f_test.yaml" || e.Msg == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
		if len(errs) == 0 {
			for _, tt := range tf.Tests {
				if tt.Name == "" || tt.Webhook == "" {
					t.Fatalf("test without name or webhook: %+v", tt)
				}
			}
		}
	})
}
