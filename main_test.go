package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseArgsFlagsAnywhere(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantS   string
	}{
		{[]string{"dir", "--secrets-dir", "s"}, []string{"dir"}, "s"},
		{[]string{"--secrets-dir", "s", "dir"}, []string{"dir"}, "s"},
		{[]string{"--secrets-dir=s", "dir"}, []string{"dir"}, "s"},
		{[]string{"dir"}, []string{"dir"}, ""},
		{[]string{"--", "-odd-dir"}, []string{"-odd-dir"}, ""},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		fs := newFlagSet("validate", &buf)
		s := fs.String("secrets-dir", "", "")
		pos, err := parseArgs(fs, tt.args, 1, 1)
		if err != nil {
			t.Fatalf("%v: %v (%s)", tt.args, err, buf.String())
		}
		if strings.Join(pos, ",") != strings.Join(tt.wantPos, ",") || *s != tt.wantS {
			t.Errorf("%v: pos %v secrets %q", tt.args, pos, *s)
		}
	}
	var buf bytes.Buffer
	fs := newFlagSet("validate", &buf)
	if _, err := parseArgs(fs, []string{"a", "b"}, 1, 1); err == nil {
		t.Error("two positionals accepted")
	}
}

func TestApplyEnv(t *testing.T) {
	var buf bytes.Buffer
	fs := newFlagSet("serve", &buf)
	days := fs.Int("log-retention-days", 30, "")
	listen := fs.String("listen", ":8080", "")
	t.Setenv("TOWERHOOK_LOG_RETENTION_DAYS", "7")
	t.Setenv("TOWERHOOK_LISTEN", ":9999")
	if _, err := parseArgs(fs, []string{"--listen", ":1234"}, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := applyEnv(fs, "TOWERHOOK_"); err != nil {
		t.Fatal(err)
	}
	if *days != 7 {
		t.Errorf("env not applied: %d", *days)
	}
	if *listen != ":1234" {
		t.Errorf("flag must win over env: %q", *listen)
	}
	t.Setenv("TOWERHOOK_LOG_RETENTION_DAYS", "many")
	fs2 := newFlagSet("serve", &buf)
	fs2.Int("log-retention-days", 30, "")
	if err := applyEnv(fs2, "TOWERHOOK_"); err == nil || !strings.Contains(err.Error(), "TOWERHOOK_LOG_RETENTION_DAYS") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestRunCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "towerhook ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run([]string{"bogus"}, &out, &errb); code != 2 {
		t.Errorf("unknown command: %d", code)
	}
	if code := run(nil, &out, &errb); code != 2 {
		t.Errorf("no command: %d", code)
	}

	dir := t.TempDir()
	good := "cetmix_tower_yaml_version: 1\nrecords:\n- cetmix_tower_model: webhook\n  name: Hi\n  endpoint: hi\n" +
		"  authenticator_id:\n    cetmix_tower_model: webhook_authenticator\n    reference: open\n    name: Open\n    code: |\n      result = {allowed = true}\n" +
		"  code: |\n    result.message = \"hi \" .. tostring(payload.who)\n"
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(good), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"validate", dir}, &out, &errb); code != 0 || !strings.Contains(out.String(), "OK: 1 webhooks") {
		t.Errorf("validate good: %d %q %q", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"call", dir, "hi", "-d", `{"who":"there"}`}, &out, &errb); code != 0 || !strings.Contains(out.String(), `"hi there"`) {
		t.Errorf("call: %d %q %q", code, out.String(), errb.String())
	}
	tests := "towerhook_test_version: 1\ntests:\n- {name: greets, webhook: hi, request: {json: {who: there}}, expect: {message: hi there}}\n" +
		"- {name: other, webhook: hi, expect: {status: 201}}\n"
	if err := os.WriteFile(filepath.Join(dir, "a_test.yaml"), []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(t.TempDir(), "junit.xml")
	out.Reset()
	if code := run([]string{"test", dir, "--run", "^greets$", "-v", "--junit", junit}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "--- PASS: greets") || !strings.HasSuffix(out.String(), "1 passed, 0 failed\n") {
		t.Errorf("test: %d %q %q", code, out.String(), errb.String())
	}
	if _, err := os.Stat(junit); err != nil {
		t.Errorf("test --junit: %v", err)
	}
	out.Reset()
	if code := run([]string{"test", dir}, &out, &errb); code != 1 || !strings.Contains(out.String(), "a_test.yaml:4: status: want 201, got 200") {
		t.Errorf("test failing: %d %q", code, out.String())
	}
	bad := strings.Replace(good, "endpoint: hi", "endpoint: hi\n  enpoint: typo", 1)
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	errb.Reset()
	if code := run([]string{"validate", dir}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "a.yaml:6:") || !strings.Contains(errb.String(), `unknown key "enpoint"`) {
		t.Errorf("validate bad: %d %q", code, errb.String())
	}
}

// TestRunCallAndLogsUsage: call takes --prefix as serve does (same values,
// same error text), rejects a bogus --remote-addr, and logs rejects a bad
// --status before asking anyone; usage errors exit 2 without a panic.
func TestRunCallAndLogsUsage(t *testing.T) {
	dir := t.TempDir()
	hooks := "cetmix_tower_yaml_version: 1\nrecords:\n" +
		"- cetmix_tower_model: webhook_authenticator\n  reference: open\n  name: Open\n  code: |\n    result = {allowed = true}\n" +
		"- cetmix_tower_model: webhook\n  name: Hi\n  endpoint: hi\n  authenticator_id: open\n" +
		"  code: |\n    result.message = \"hi \" .. tostring(payload.who) .. \" from \" .. request.remote_addr\n" +
		"- cetmix_tower_model: webhook\n  name: Form\n  endpoint: form\n  content_type: form\n  authenticator_id: open\n" +
		"  code: |\n    result.message = headers[\"content-type\"] .. \" \" .. tostring(payload.a)\n"
	if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(hooks), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"prefix without trailing slash", []string{"call", dir, "hi", "--prefix", "/hooks", "-d", `{"who":"x"}`}, 0, `"hi x from 127.0.0.1"`, ""},
		{"prefix with trailing slash", []string{"call", "--prefix", "/hooks/", dir, "hi"}, 0, `"hi nil from 127.0.0.1"`, ""},
		{"prefix without leading slash", []string{"call", dir, "hi", "--prefix", "hooks/"}, 2, "", `towerhook call: --prefix "hooks/" must start with /`},
		{"remote addr v6 with port", []string{"call", dir, "hi", "--remote-addr", "[2001:db8::1]:5000"}, 0, "from 2001:db8::1", ""},
		{"remote addr v4", []string{"call", dir, "hi", "--remote-addr", "192.0.2.1"}, 0, "from 192.0.2.1", ""},
		{"remote addr bogus", []string{"call", dir, "hi", "--remote-addr", "bogus"}, 2, "", `towerhook call: --remote-addr "bogus": want an IP address or IP:port`},
		{"form content type by default", []string{"call", dir, "form", "-d", "a=1"}, 0, `"application/x-www-form-urlencoded 1"`, ""},
		{"explicit content type kept", []string{"call", dir, "form", "-d", "a=1", "-H", "Content-Type: text/plain"}, 0, `"text/plain 1"`, ""},
		{"logs bad status", []string{"logs", "--status", "weird", "--admin", "http://127.0.0.1:1"}, 2, "", `--status: `},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.args, &out, &errb)
			if code != tt.wantCode || !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", tt.args, code, tt.wantCode, out.String(), errb.String())
			}
			if strings.Contains(errb.String(), "goroutine ") {
				t.Errorf("stack trace:\n%s", errb.String())
			}
		})
	}

	// The same bad prefix reads the same in serve (which checks it first).
	var out, errb bytes.Buffer
	if code := run([]string{"serve", "--prefix", "hooks/", "--dir", dir}, &out, &errb); code == 0 ||
		!strings.Contains(errb.String(), `towerhook serve: --prefix "hooks/" must start with /`) {
		t.Errorf("serve --prefix hooks/: exit %d, %s", code, errb.String())
	}
}
