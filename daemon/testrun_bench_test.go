package daemon

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
)

// BenchmarkTestRun1000 runs `towerhook test` over 1 000 tests in 100 files
// (a signed request each, half of them with a mocked requests call), load
// and compile of the directory included: one op is one whole run.
func BenchmarkTestRun1000(b *testing.B) {
	dir := b.TempDir()
	files := map[string]string{"defs.yaml": fmt.Sprintf(testDefs, "https://chat.example.com", "/nonexistent/marker") + `
- cetmix_tower_model: webhook_authenticator
  reference: hmac_sig
  name: HMAC signature
  code: |
    local expected = "sha256=" .. hmac.new(#!cxtower.secret.hmac_secret!#, raw_data, "sha256"):hexdigest()
    result = {allowed = hmac.compare_digest(headers["X-Signature"] or "", expected)}
- cetmix_tower_model: webhook
  reference: events
  name: Events
  endpoint: events
  authenticator_id: hmac_sig
  code: |
    if payload.notify then
      local r = requests.post("https://chat.example.com/hook", {json = {text = payload.action}})
      result = {exit_code = 0, message = "notified " .. r.status_code}
    else
      result = {exit_code = 0, message = payload.action .. " on " .. payload.repository.full_name}
    end
`}
	for f := range 100 {
		var t strings.Builder
		t.WriteString("towerhook_test_version: 1\ntests:\n")
		for i := range 10 {
			fmt.Fprintf(&t, `- name: test %d of file %d
  webhook: events
  request:
    json: {action: opened, notify: %v, repository: {full_name: acme/app%d}}
    sign: |
      headers["X-Signature"] = "sha256=" .. hmac.new(secrets.hmac_secret, body, "sha256"):hexdigest()
  mocks:
    requests: [{method: POST, url: "https://chat.example.com/hook", status: 200}]
  expect:
    status: 200
    authentication: success
    message_regex: "^(notified 200|opened on acme/app%d)$"
`, i, f, i%2 == 0, f, f)
		}
		files[fmt.Sprintf("tests/f%03d_test.yaml", f)] = t.String()
	}
	writeFiles(b, dir, files)
	b.ResetTimer()
	for b.Loop() {
		if code := Test(context.Background(), TestOptions{Dir: dir, Environ: []string{}}, io.Discard, io.Discard); code != 0 {
			b.Fatalf("exit code %d", code)
		}
	}
}
