package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"towerhook/logs"
)

func TestCodeErrorAt(t *testing.T) {
	fileLine := func(n int) int { return 40 + n } // Lua line 1 on file line 41
	tests := []struct{ text, want string }{
		{"line 1: attempt to index a non-table object(nil) with key 'name'", "webhooks/github.yaml:41: attempt to index a non-table object(nil) with key 'name'"},
		{"line 12: boom", "webhooks/github.yaml:52: boom"},
		{"execution timed out after 10s", "webhooks/github.yaml:7: execution timed out after 10s"},
		{`{"code":42}`, `webhooks/github.yaml:7: {"code":42}`},
		{"line x: odd", "webhooks/github.yaml:7: line x: odd"},
		{"line 0: odd", "webhooks/github.yaml:7: line 0: odd"},
	}
	for _, tt := range tests {
		if got := codeErrorAt("webhooks/github.yaml", 7, fileLine, tt.text); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.text, got, tt.want)
		}
	}
}

// codeErrorFiles: the webhook's code fails on file line 9 of
// webhooks/github.yaml, the authenticator "broken" on line 13 of auth.yaml
// (after openFile's 7 lines).
var codeErrorFiles = map[string]string{
	"auth.yaml": openFile(`- cetmix_tower_model: webhook_authenticator
  reference: broken
  name: Broken
  code: |
    local x = 1
    error("no key")
`),
	"webhooks/github.yaml": `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook
  reference: github
  name: GitHub
  endpoint: github
  authenticator_id: open
  code: |
    local repo = payload.repository.name
    result = {exit_code = 0}
- cetmix_tower_model: webhook
  reference: guarded
  name: Guarded
  endpoint: guarded
  authenticator_id: broken
  code: |
    result = {exit_code = 0}
`,
}

// TestRuntimeErrorsPointAtYAML: a runtime Lua error names the definitions
// file and line in the call log record and the daemon log; the answer to
// the caller keeps the code's own line (no file layout leaks out).
func TestRuntimeErrorsPointAtYAML(t *testing.T) {
	d := startDaemon(t, codeErrorFiles, nil)
	r := do(t, "POST", d.pub+DefaultPrefix+"github", "{}", nil)
	if r.Status != 500 || r.Message != "Webhook code execution error: line 1: attempt to index a non-table object(nil) with key 'name'" {
		t.Errorf("answer %d %v", r.Status, r.Message)
	}
	r = do(t, "POST", d.pub+DefaultPrefix+"guarded", "{}", nil)
	if r.Status != 403 || !strings.HasPrefix(r.Message.(string), "Authentication code error: line 2: no key") {
		t.Errorf("answer %d %v", r.Status, r.Message)
	}
	want := map[string]string{
		"github":  "Webhook code execution error: webhooks/github.yaml:9: attempt to index a non-table object(nil) with key 'name'",
		"guarded": "Authentication code error: auth.yaml:13: no key",
	}
	for ref, msg := range want {
		var out, errb bytes.Buffer
		var rec logs.Record
		eventually(t, 10*time.Second, "the record of "+ref, func() bool {
			out.Reset()
			return Logs(context.Background(), LogsOptions{Admin: d.admin, Webhook: ref, Limit: 1, JSON: true}, &out, &errb) == 0 &&
				json.Unmarshal(out.Bytes(), &rec) == nil
		})
		if rec.ErrorMessage != msg {
			t.Errorf("%s: error_message %q, want %q", ref, rec.ErrorMessage, msg)
		}
	}

	// towerhook call shows the same, and its log line (the daemon's) too.
	dir := t.TempDir()
	writeFiles(t, dir, codeErrorFiles)
	var out, errb bytes.Buffer
	Call(context.Background(), CallOptions{Dir: dir, Endpoint: "github", Data: "{}"}, &out, &errb)
	if !strings.Contains(out.String(), "error: "+want["github"]) {
		t.Errorf("call stdout:\n%s", out.String())
	}
	if !strings.Contains(errb.String(), `msg="webhook code failed"`) || !strings.Contains(errb.String(), "webhooks/github.yaml:9: attempt to index a non-table object(nil)") {
		t.Errorf("call log line:\n%s", errb.String())
	}
}
