package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"towerhook/definitions"
	"towerhook/internal/jsonx"
	"towerhook/logs"
	"towerhook/lua"
)

const authsYAML = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: open
  name: Open
  code: |
    result = {allowed = true}
- cetmix_tower_model: webhook_authenticator
  reference: token
  name: Token
  code: |
    if headers["x-token"] == #!cxtower.secret.api_token!# then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Bad token"}
    end
- cetmix_tower_model: webhook_authenticator
  reference: deny
  name: Deny
  code: |
    result = {allowed = false}
- cetmix_tower_model: webhook_authenticator
  reference: broken
  name: Broken
  code: |
    error("boom")
- cetmix_tower_model: webhook_authenticator
  reference: notable
  name: Not a table
  code: |
    result = 5
- cetmix_tower_model: webhook_authenticator
  reference: lan
  name: LAN only
  allowed_ip_addresses: 192.0.2.0/24
  code: |
    result = {allowed = true}
- cetmix_tower_model: webhook_authenticator
  reference: proxied
  name: Behind a proxy
  trusted_proxy_ips: 127.0.0.1, ::1
  allowed_ip_addresses: 203.0.113.7, 2001:db8::/32
  code: |
    result = {allowed = true}
`

// currentTable builds the routing table of the definitions in dir (as
// serve would, without a server) and holds it as the current one; the
// table is closed when the test ends.
func currentTable(t testing.TB, dir string) *atomic.Pointer[table] {
	t.Helper()
	set, err := definitions.LoadDir(dir, definitions.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := buildTable(set, buildOptions{Logger: discardLogger(), DefaultTimeout: time.Second, LuaMetrics: lua.NewMetrics(nil)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tb.close)
	var cur atomic.Pointer[table]
	cur.Store(tb)
	return &cur
}

// openFile is a definitions file holding the always-allowing authenticator
// "open" and hooks (records built with hook).
func openFile(hooks string) string {
	return "cetmix_tower_yaml_version: 1\nrecords:\n" +
		"- cetmix_tower_model: webhook_authenticator\n  reference: open\n  name: Open\n  code: |\n    result = {allowed = true}\n" +
		hooks
}

func hook(ref, endpoint, auth, extra, code string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "- cetmix_tower_model: webhook\n  reference: %s\n  name: %s\n  endpoint: %s\n  authenticator_id: %s\n", ref, ref, endpoint, auth)
	if extra != "" {
		for _, l := range strings.Split(strings.TrimSpace(extra), "\n") {
			b.WriteString("  " + l + "\n")
		}
	}
	b.WriteString("  code: |\n")
	for _, l := range strings.Split(strings.TrimSpace(code), "\n") {
		b.WriteString("    " + l + "\n")
	}
	return b.String()
}

func pipelineFiles() map[string]string {
	hooks := "cetmix_tower_yaml_version: 1\nrecords:\n" +
		hook("ok", "ok", "open", "", `result = {exit_code = 0, message = "hello " .. tostring(payload.name)}`) +
		hook("plain", "plain", "open", "", `_logger.info("plain ran")`) +
		hook("fail", "fail", "open", "", `result = {exit_code = 2, message = "bad thing"}`) +
		hook("noexit", "noexit", "open", "", `result = {message = "no exit code"}`) +
		hook("raises", "raises", "open", "", `error("kaboom")`) +
		hook("notdict", "notdict", "open", "", `result = "nope"`) +
		hook("slow", "slow", "open", "timeout: 0.5", `while true do end`) +
		hook("disabled", "disabled", "open", "active: false", `result = {message = "should not run"}`) +
		hook("getter", "getter", "open", "method: get", `result.message = payload.q .. "|" .. request.method .. "|" .. request.path`) +
		hook("former", "former", "open", "content_type: form", `result.message = payload.a .. "|" .. raw_data`) +
		hook("nested", "deploy/app", "open", "", `result.message = "nested " .. webhook.reference`) +
		hook("custom", "custom", "open", "", `result = {exit_code = 0, http_code = 202, headers = {["X-Custom"] = "yes"}, body = "challenge-xyz", content_type = "text/plain"}`) +
		hook("jsonmsg", "jsonmsg", "open", "", `result.message = {a = 1, b = {"x", "y"}}`) +
		hook("raw", "raw", "open", "", `result.message = raw_data .. "|" .. type(payload) .. "|" .. json.dumps(payload)`) +
		hook("tokened", "tokened", "token", "", `result.message = "secret ok"`) +
		hook("denied", "denied", "deny", "", `result = {message = "never"}`) +
		hook("broken", "broken", "broken", "", `result = {message = "never"}`) +
		hook("notable", "notable", "notable", "", `result = {message = "never"}`) +
		hook("lan", "lan", "lan", "", `result = {message = "never"}`) +
		hook("proxied", "proxied", "proxied", "", `result.message = "from " .. request.remote_addr`) +
		hook("leak", "leak", "token", "", `result = {exit_code = 1, message = "token is " .. #!cxtower.secret.api_token!#}`) +
		hook("leakerr", "leakerr", "open", "", `error("token is " .. #!cxtower.secret.api_token!#)`)
	return map[string]string{"auth/auths.yaml": authsYAML, "hooks.yml": hooks}
}

func withSecrets(t *testing.T) func(*Options) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "api_token"), []byte("s3cr3t-Value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(o *Options) { o.SecretsDir = dir }
}

func TestStatusTable(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	base := d.pub + DefaultPrefix
	tests := []struct {
		name    string
		method  string
		path    string
		body    string
		headers map[string]string
		status  int
		message any
		check   func(t *testing.T, r response)
	}{
		{"ok", "POST", "ok", `{"name":"world"}`, nil, 200, "hello world", nil},
		{"default OK message", "POST", "plain", `{}`, nil, 200, "OK", nil},
		{"exit code nonzero", "POST", "fail", ``, nil, 500, "bad thing", nil},
		{"exit code missing", "POST", "noexit", ``, nil, 500, "no exit code", nil},
		{"code raises", "POST", "raises", ``, nil, 500, nil, func(t *testing.T, r response) {
			m, _ := r.Message.(string)
			if !strings.HasPrefix(m, "Webhook code execution error: ") || !strings.Contains(m, "kaboom") {
				t.Errorf("message %q", m)
			}
		}},
		{"result not a dict", "POST", "notdict", ``, nil, 500, "Webhook code execution error: result is not a dict", nil},
		{"timeout", "POST", "slow", ``, nil, 500, nil, func(t *testing.T, r response) {
			m, _ := r.Message.(string)
			if !strings.HasPrefix(m, "Webhook code execution error: ") || !strings.Contains(m, "timed out") {
				t.Errorf("message %q", m)
			}
		}},
		{"unknown endpoint", "POST", "nope", ``, nil, 404, "Webhook not found", nil},
		{"disabled", "POST", "disabled", ``, nil, 404, "Webhook not found", nil},
		{"wrong method", "GET", "ok", ``, nil, 404, "Webhook not found", nil},
		{"put method", "PUT", "ok", ``, nil, 404, "Webhook not found", nil},
		{"trailing slash", "POST", "ok/", ``, nil, 404, "Webhook not found", nil},
		{"dot dot", "POST", "deploy/../ok", ``, nil, 404, "Webhook not found", nil},
		{"get query payload", "GET", "getter?q=one&q=two", ``, nil, 200, "one|GET|/cetmix_tower_webhooks/getter", nil},
		{"form payload", "POST", "former", `a=1&a=2&b=3`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 200, "1|a=1&a=2&b=3", nil},
		{"endpoint with slash", "POST", "deploy/app", `{}`, nil, 200, "nested nested", nil},
		{"custom body", "POST", "custom", `{}`, nil, 202, nil, func(t *testing.T, r response) {
			if r.Body != "challenge-xyz" || r.Header.Get("X-Custom") != "yes" || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("body %q headers %v", r.Body, r.Header)
			}
		}},
		{"table message", "POST", "jsonmsg", `{}`, nil, 200, map[string]any{"a": 1.0, "b": []any{"x", "y"}}, nil},
		{"invalid json", "POST", "raw", `{not json`, nil, 200, "{not json|table|{}", nil},
		{"array payload", "POST", "raw", `[1,2]`, nil, 200, "[1,2]|table|[1,2]", nil},
		{"auth ok with secret", "POST", "tokened", `{}`, map[string]string{"X-Token": "s3cr3t-Value"}, 200, "secret ok", nil},
		{"auth message and code", "POST", "tokened", `{}`, map[string]string{"X-Token": "wrong"}, 401, "Bad token", nil},
		{"auth denied default", "POST", "denied", `{}`, nil, 403, "Authentication not allowed", nil},
		{"auth raises", "POST", "broken", `{}`, nil, 403, nil, func(t *testing.T, r response) {
			m, _ := r.Message.(string)
			if !strings.HasPrefix(m, "Authentication code error: ") || !strings.Contains(m, "boom") {
				t.Errorf("message %q", m)
			}
		}},
		{"auth result not a table", "POST", "notable", `{}`, nil, 403, "Authentication code error: result is not a dict", nil},
		{"ip not allowed", "POST", "lan", `{}`, nil, 403, "Address not allowed", nil},
		{"secret masked in message", "POST", "leak", `{}`, map[string]string{"X-Token": "s3cr3t-Value"}, 500, "token is *****", nil},
		{"secret masked in error", "POST", "leakerr", `{}`, nil, 500, nil, func(t *testing.T, r response) {
			if strings.Contains(r.Body, "s3cr3t") || !strings.Contains(r.Body, "*****") {
				t.Errorf("body %q", r.Body)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, tt.method, base+tt.path, tt.body, tt.headers)
			if r.Status != tt.status {
				t.Errorf("status = %d, want %d (body %s)", r.Status, tt.status, r.Body)
			}
			if r.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id")
			}
			if tt.check == nil && r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("content type %q", r.Header.Get("Content-Type"))
			}
			if tt.message != nil && fmt.Sprint(r.Message) != fmt.Sprint(tt.message) {
				t.Errorf("message = %#v, want %#v", r.Message, tt.message)
			}
			if tt.check != nil {
				tt.check(t, r)
			}
		})
	}
}

func TestRequestIDHonoured(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	r := do(t, "POST", d.pub+DefaultPrefix+"ok", "{}", map[string]string{"X-Request-Id": "abc-123"})
	if got := r.Header.Get("X-Request-Id"); got != "abc-123" {
		t.Errorf("request id %q", got)
	}
	r = do(t, "POST", d.pub+DefaultPrefix+"ok", "{}", map[string]string{"X-Request-Id": "bad id\" <script>"})
	if got := r.Header.Get("X-Request-Id"); got == "" || strings.ContainsAny(got, " \"<") {
		t.Errorf("request id %q not replaced", got)
	}
}

func TestBodyLimit(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), func(o *Options) {
		withSecrets(t)(o)
		o.MaxBody = 1024
	})
	big := `{"name":"` + strings.Repeat("x", 2000) + `"}`
	r := do(t, "POST", d.pub+DefaultPrefix+"ok", big, nil)
	if r.Status != 413 || r.Message != "Request body too large" {
		t.Errorf("got %d %v", r.Status, r.Message)
	}
	// Chunked (no Content-Length) must be cut off too.
	req, _ := http.NewRequest("POST", d.pub+DefaultPrefix+"ok", struct{ *strings.Reader }{strings.NewReader(big)})
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked: got %d", resp.StatusCode)
	}
	if r := do(t, "POST", d.pub+DefaultPrefix+"ok", `{"name":"small"}`, nil); r.Status != 200 {
		t.Errorf("small body: %d", r.Status)
	}
}

func TestConcurrencyLimit(t *testing.T) {
	files := map[string]string{"a.yaml": openFile(
		hook("slow", "slow", "open", "timeout: 2", `while true do end`) +
			hook("fast", "fast", "open", "", `result.message = "fast"`))}
	d := startDaemon(t, files, func(o *Options) { o.MaxConcurrent = 1 })
	var wg sync.WaitGroup
	wg.Add(1)
	started := time.Now()
	go func() {
		defer wg.Done()
		do(t, "POST", d.pub+DefaultPrefix+"slow", "{}", nil)
	}()
	// Wait until the slow call holds the slot (in-flight gauge), then probe.
	eventually(t, 10*time.Second, "slow call in flight", func() bool {
		return strings.Contains(metricsText(t, d.admin), "towerhook_http_requests_in_flight 1")
	})
	r := do(t, "POST", d.pub+DefaultPrefix+"fast", "{}", nil)
	if time.Since(started) < 2*time.Second {
		if r.Status != 503 || r.Message != "Too busy" || r.Header.Get("Retry-After") == "" {
			t.Errorf("got %d %v retry-after %q", r.Status, r.Message, r.Header.Get("Retry-After"))
		}
	}
	wg.Wait()
	if r := do(t, "POST", d.pub+DefaultPrefix+"fast", "{}", nil); r.Status != 200 {
		t.Errorf("after: %d", r.Status)
	}
}

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8:ffff::/48")}
	tests := []struct {
		name   string
		remote string
		xff    []string
		want   string
	}{
		{"direct v4", "198.51.100.1:1234", nil, "198.51.100.1"},
		{"direct v6", "[2001:db8::1]:1234", nil, "2001:db8::1"},
		{"mapped v4", "[::ffff:198.51.100.1]:1234", nil, "198.51.100.1"},
		{"untrusted peer ignores xff", "198.51.100.1:1", []string{"203.0.113.7"}, "198.51.100.1"},
		{"trusted peer", "10.0.0.1:1", []string{"203.0.113.7"}, "203.0.113.7"},
		{"forged left entry", "10.0.0.1:1", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"chain of proxies", "10.0.0.1:1", []string{"203.0.113.7, 10.1.1.1", "10.2.2.2"}, "203.0.113.7"},
		{"all trusted", "10.0.0.1:1", []string{"10.1.1.1"}, "10.1.1.1"},
		{"v6 proxy", "[2001:db8:ffff::1]:1", []string{"2001:db8:1::5"}, "2001:db8:1::5"},
		{"garbage entry", "10.0.0.1:1", []string{"203.0.113.7, junk"}, "10.0.0.1"},
		{"mapped in xff", "10.0.0.1:1", []string{"::ffff:203.0.113.9"}, "203.0.113.9"},
		{"xff entry with port", "10.0.0.1:1", []string{"203.0.113.7:4431"}, "203.0.113.7"},
		{"xff v6 entry with port", "10.0.0.1:1", []string{"[2001:db8:1::5]:443"}, "2001:db8:1::5"},
		{"empty entries skipped", "10.0.0.1:1", []string{"203.0.113.7, ,10.1.1.1,"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, trusted).String(); got != tt.want {
				t.Errorf("clientIP = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestProxiedAllowlist(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	url := d.pub + DefaultPrefix + "proxied"
	// Peer is 127.0.0.1 (trusted): the client is the right-most untrusted XFF entry.
	if r := do(t, "POST", url, "{}", map[string]string{"X-Forwarded-For": "203.0.113.7"}); r.Status != 200 || r.Message != "from 203.0.113.7" {
		t.Errorf("v4 via proxy: %d %v", r.Status, r.Message)
	}
	if r := do(t, "POST", url, "{}", map[string]string{"X-Forwarded-For": "2001:db8::42"}); r.Status != 200 {
		t.Errorf("v6 via proxy: %d %v", r.Status, r.Message)
	}
	// A forged left-most entry does not help.
	if r := do(t, "POST", url, "{}", map[string]string{"X-Forwarded-For": "203.0.113.7, 198.51.100.9"}); r.Status != 403 || r.Message != "Address not allowed" {
		t.Errorf("forged: %d %v", r.Status, r.Message)
	}
	// No XFF: the peer itself (127.0.0.1) is not allowed.
	if r := do(t, "POST", url, "{}", nil); r.Status != 403 {
		t.Errorf("no xff: %d %v", r.Status, r.Message)
	}
}

func TestCallLogRecords(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	r := do(t, "POST", d.pub+DefaultPrefix+"tokened", `{"k":"v"}`, map[string]string{
		"X-Token": "s3cr3t-Value", "Authorization": "Bearer abc", "X-Request-Id": "req-log-1",
	})
	if r.Status != 200 {
		t.Fatalf("status %d", r.Status)
	}
	do(t, "POST", d.pub+DefaultPrefix+"nope", `{}`, nil)
	do(t, "POST", d.pub+DefaultPrefix+"plain", `{}`, nil)

	var page struct {
		Records    []map[string]any `json:"records"`
		NextCursor string           `json:"next_cursor"`
	}
	getJSON(t, d.admin+"/api/v1/logs?webhook=tokened", &page)
	if len(page.Records) != 1 {
		t.Fatalf("records: %d", len(page.Records))
	}
	rec := page.Records[0]
	want := map[string]any{
		"webhook": "tokened", "webhook_name": "tokened", "endpoint": "tokened", "method": "POST",
		"authenticator": "token", "authentication_status": "success", "code_status": "success",
		"http_status": 200.0, "result_message": "secret ok", "ip_address": "127.0.0.1",
		"request_id": "req-log-1",
	}
	for k, v := range want {
		if fmt.Sprint(rec[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, rec[k], v)
		}
	}
	for _, k := range []string{"id", "time", "duration_seconds", "config_hash", "request_headers", "request_payload", "error_message", "run_as", "log_lines"} {
		if _, ok := rec[k]; !ok {
			t.Errorf("field %s missing", k)
		}
	}
	hdrs, _ := rec["request_headers"].(map[string]any)
	if hdrs["Authorization"] != "*****" || hdrs["X-Token"] != "*****" {
		t.Errorf("headers not redacted: %v", hdrs)
	}
	if p, _ := rec["request_payload"].(map[string]any); p["k"] != "v" {
		t.Errorf("payload %v", rec["request_payload"])
	}
	var one map[string]any
	if code := getJSON(t, d.admin+"/api/v1/logs/"+fmt.Sprint(rec["id"]), &one); code != 200 || one["request_id"] != "req-log-1" {
		t.Errorf("get by id: %d %v", code, one)
	}
	getJSON(t, d.admin+"/api/v1/logs?status=404", &page)
	if len(page.Records) != 1 || page.Records[0]["endpoint"] != "nope" || page.Records[0]["authentication_status"] != "failed" {
		t.Errorf("404 records: %v", page.Records)
	}
	getJSON(t, d.admin+"/api/v1/logs?webhook=plain", &page)
	if len(page.Records) != 1 || fmt.Sprint(page.Records[0]["log_lines"]) != "[INFO: plain ran]" {
		t.Errorf("log lines: %v", page.Records)
	}
}

func TestMetricsAndAdmin(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	do(t, "POST", d.pub+DefaultPrefix+"ok", "{}", nil)
	do(t, "POST", d.pub+DefaultPrefix+"ok", "{}", nil)
	do(t, "POST", d.pub+DefaultPrefix+"unknown", "{}", nil)
	do(t, "POST", d.pub+DefaultPrefix+"denied", "{}", nil)
	m := metricsText(t, d.admin)
	for _, want := range []string{
		`towerhook_http_requests_total{code="200",webhook="ok"} 2`,
		`towerhook_http_requests_total{code="404",webhook="_unmatched"} 1`,
		`towerhook_auth_results_total{authenticator="deny",result="denied"} 1`,
		`towerhook_config_last_reload_successful 1`,
		`towerhook_definitions_loaded{kind="authenticator"} 7`,
		`towerhook_http_request_duration_seconds_count{webhook="ok"} 2`,
		`towerhook_lua_duration_seconds_count{kind="webhook",reference="ok"} 2`,
		`towerhook_log_records_written_total 4`,
		`go_goroutines`, `process_`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(m, "s3cr3t") {
		t.Error("secret in metrics")
	}
	// The public listener serves none of the admin endpoints.
	for _, p := range []string{"/metrics", "/-/ready", "/api/v1/definitions"} {
		if r := do(t, "GET", d.pub+p, "", nil); r.Status != 404 {
			t.Errorf("public %s: %d", p, r.Status)
		}
	}
	if r := do(t, "GET", d.admin+"/-/ready", "", nil); r.Status != 200 {
		t.Errorf("ready: %d", r.Status)
	}
	if r := do(t, "GET", d.admin+"/-/healthy", "", nil); r.Status != 200 {
		t.Errorf("healthy: %d", r.Status)
	}
	var defs definitionsResponse
	getJSON(t, d.admin+"/api/v1/definitions", &defs)
	if len(defs.Webhooks) != 22 || len(defs.Authenticators) != 7 || defs.ConfigHash == "" || !defs.ReloadOK {
		t.Errorf("definitions: %d webhooks %d auths hash %q ok %v", len(defs.Webhooks), len(defs.Authenticators), defs.ConfigHash, defs.ReloadOK)
	}
	r := do(t, "GET", d.admin+"/api/v1/definitions", "", nil)
	if strings.Contains(r.Body, "s3cr3t") || strings.Contains(r.Body, "while true") {
		t.Error("definitions API leaks code or secrets")
	}
}

func TestGracefulShutdown(t *testing.T) {
	files := map[string]string{"a.yaml": openFile(
		hook("slow", "slow", "open", "timeout: 1", `while true do end`))}
	d := startDaemon(t, files, nil)
	got := make(chan response, 1)
	go func() { got <- do(t, "POST", d.pub+DefaultPrefix+"slow", "{}", nil) }()
	eventually(t, 10*time.Second, "request in flight", func() bool {
		return strings.Contains(metricsText(t, d.admin), "towerhook_http_requests_in_flight 1")
	})
	d.cancel()
	select {
	case r := <-got:
		if r.Status != 500 {
			t.Errorf("in-flight request got %d %s", r.Status, r.Body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("in-flight request not answered")
	}
	if err := <-d.done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	d.done <- nil // for the cleanup's stop
	// The record of the drained request is in the store after shutdown.
	var buf strings.Builder
	if code := Logs(context.Background(), LogsOptions{Data: d.data, Webhook: "slow", Limit: 10, JSON: true}, &buf, &buf); code != 0 {
		t.Fatalf("logs: %d %s", code, buf.String())
	}
	if !strings.Contains(buf.String(), `"webhook":"slow"`) {
		t.Errorf("record missing after shutdown: %s", buf.String())
	}
}

func TestStartFailures(t *testing.T) {
	o := DefaultOptions()
	o.Dir = filepath.Join(t.TempDir(), "missing")
	o.Data = t.TempDir()
	o.Listen, o.AdminListen = "127.0.0.1:0", "127.0.0.1:0"
	err := Serve(context.Background(), o, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "definitions directory") {
		t.Errorf("missing dir: %v", err)
	}
	// Port in use.
	ln := httptest.NewServer(http.NotFoundHandler())
	defer ln.Close()
	o.Dir = t.TempDir()
	o.Listen = strings.TrimPrefix(ln.URL, "http://")
	err = Serve(context.Background(), o, discardLogger())
	if err == nil || !strings.Contains(err.Error(), "public listener") {
		t.Errorf("port in use: %v", err)
	}
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "OK", "push to octocat/Hello-World", `say "hi"`, `a\b`, "<b>&", "<lua>:4: \"x\"", "tab\there", "é", "\xff", "\u2028", "日本"} {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		enc.Encode(s)
		want := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
		if got := jsonx.AppendString(nil, s); string(got) != string(want) {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

// Every call announces its record to the call log (logs.Store.Expect) and
// withdraws it before the Append or when it ends early, panics included.
func TestExpectAnnouncementsBalance(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook
  reference: ok
  name: OK
  endpoint: ok
  authenticator_id:
    cetmix_tower_model: webhook_authenticator
    reference: open
    name: Open
    code: |
      result = {allowed = true}
  code: |
    result = {exit_code = 0}
- cetmix_tower_model: webhook
  reference: boom
  name: Boom
  endpoint: boom
  authenticator_id: open
  code: |
    error("boom")
`})
	cur := currentTable(t, dir)
	var announced, most, appends atomic.Int64
	p := newPipeline(DefaultOptions(), cur, newMetrics(prometheus.NewRegistry()), discardLogger(),
		func(context.Context, *logs.Record) error {
			if announced.Load() != 0 {
				t.Error("Append while this call's record is still announced")
			}
			appends.Add(1)
			return nil
		})
	p.expect = func(n int) {
		if v := announced.Add(int64(n)); v > most.Load() {
			most.Store(v)
		}
	}
	for _, tc := range []struct {
		path string
		body string
		want int
	}{
		{"/cetmix_tower_webhooks/ok", `{}`, 200},
		{"/cetmix_tower_webhooks/boom", `{}`, 500},
		{"/cetmix_tower_webhooks/missing", `{}`, 404},
		{"/elsewhere", ``, 404},
	} {
		rw := httptest.NewRecorder()
		p.ServeHTTP(rw, httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body)))
		if rw.Code != tc.want {
			t.Errorf("%s: status %d, want %d", tc.path, rw.Code, tc.want)
		}
		if n := announced.Load(); n != 0 {
			t.Fatalf("%s: %d announcements left", tc.path, n)
		}
	}
	if most.Load() != 1 || appends.Load() != 3 {
		t.Fatalf("most announced %d, appends %d; want 1 and 3", most.Load(), appends.Load())
	}
	// A panic in the pipeline (here: the append hook) still withdraws.
	p.appendFn = func(context.Context, *logs.Record) error { panic("hook") }
	p.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/cetmix_tower_webhooks/ok", strings.NewReader(`{}`)))
	if n := announced.Load(); n != 0 {
		t.Fatalf("after a panic: %d announcements left", n)
	}
}

// A caller that hangs up does not cancel the code: it runs to completion
// within its own timeout (here a 1 s command, the caller gives up after
// 0.3 s), and the call is logged as a success.
func TestCallerHangUpDoesNotStopCode(t *testing.T) {
	d := startDaemon(t, map[string]string{"slow.yaml": `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook
  reference: slow
  name: Slow
  endpoint: slow
  timeout: 20
  authenticator_id:
    cetmix_tower_model: webhook_authenticator
    reference: open
    name: Open
    code: |
      result = {allowed = true}
  code: |
    local r = subprocess.run({"sleep", "1"})
    result = {exit_code = r.returncode, message = "slept"}
`}, nil)
	client := &http.Client{Timeout: 300 * time.Millisecond}
	resp, err := client.Post(d.pub+DefaultPrefix+"slow", "application/json", strings.NewReader(`{}`))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("the client did not time out (status %d)", resp.StatusCode)
	}
	var page struct {
		Records []map[string]any `json:"records"`
	}
	eventually(t, 10*time.Second, "the slow call's record", func() bool {
		getJSON(t, d.admin+"/api/v1/logs?webhook=slow", &page)
		return len(page.Records) == 1
	})
	if rec := page.Records[0]; rec["code_status"] != "success" || rec["result_message"] != "slept" || rec["http_status"] != float64(200) {
		t.Fatalf("record = %v", rec)
	}
}

// TestCallLogMasksSecretsInPayload: a secret sent in a JSON body, a form or a
// query string is masked in the stored request_payload (DESIGN section 2).
func TestCallLogMasksSecretsInPayload(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), withSecrets(t))
	base := d.pub + DefaultPrefix
	do(t, "POST", base+"ok", `{"name":"x","token":"s3cr3t-Value","url":"https:\/\/h\/s3cr3t-Value"}`, nil)
	do(t, "POST", base+"former", "a=s3cr3t-Value&b=2", map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	do(t, "GET", base+"getter?q=s3cr3t-Value", "", nil)
	for _, wh := range []string{"ok", "former", "getter"} {
		var page struct {
			Records []map[string]any `json:"records"`
		}
		getJSON(t, d.admin+"/api/v1/logs?webhook="+wh, &page)
		if len(page.Records) != 1 {
			t.Fatalf("%s: %d records", wh, len(page.Records))
		}
		b, _ := json.Marshal(page.Records[0])
		if strings.Contains(string(b), "s3cr3t") {
			t.Errorf("%s: secret stored: %s", wh, b)
		}
		if !strings.Contains(string(b), `"*****"`) {
			t.Errorf("%s: no mask in %s", wh, b)
		}
	}
}

// TestCallLogEarlyAnswers: answers given before any code runs still log
// the caller's address and why, and log_lines is a list.
func TestCallLogEarlyAnswers(t *testing.T) {
	d := startDaemon(t, pipelineFiles(), func(o *Options) {
		withSecrets(t)(o)
		o.MaxBody = 64
	})
	do(t, "POST", d.pub+DefaultPrefix+"nowhere", `{}`, nil)
	do(t, "POST", d.pub+DefaultPrefix+"ok", `{"name":"`+strings.Repeat("x", 100)+`"}`, nil)
	do(t, "POST", d.pub+DefaultPrefix+"ok", `{"name":"x"}`, nil)
	var page struct {
		Records []map[string]any `json:"records"`
	}
	getJSON(t, d.admin+"/api/v1/logs", &page)
	if len(page.Records) != 3 {
		t.Fatalf("records: %d", len(page.Records))
	}
	want := map[float64]string{404: "Webhook not found", 413: "Request body too large", 200: ""}
	for _, r := range page.Records {
		st, _ := r["http_status"].(float64)
		if r["ip_address"] != "127.0.0.1" {
			t.Errorf("%v: ip_address %v", st, r["ip_address"])
		}
		if r["error_message"] != want[st] {
			t.Errorf("%v: error_message %q, want %q", st, r["error_message"], want[st])
		}
		if l, ok := r["log_lines"].([]any); !ok || len(l) != 0 {
			t.Errorf("%v: log_lines %#v, want []", st, r["log_lines"])
		}
	}
}

// TestRequestPayloads: Host among the headers, multipart and lenient
// urlencoded forms, lenient query strings.
func TestRequestPayloads(t *testing.T) {
	files := map[string]string{"a.yaml": openFile(
		hook("host", "host", "open", "", `result.message = tostring(headers["Host"]) .. "|" .. tostring(headers.host)`) +
			hook("form", "form", "open", "content_type: form", `result.message = json.dumps(payload)`) +
			hook("query", "query", "open", "method: get", `result.message = json.dumps(payload)`))}
	d := startDaemon(t, files, nil)
	base := d.pub + DefaultPrefix
	host := strings.TrimPrefix(d.pub, "http://")
	if r := do(t, "POST", base+"host", `{}`, nil); r.Message != host+"|"+host {
		t.Errorf("host: %v", r.Message)
	}
	var page struct {
		Records []map[string]any `json:"records"`
	}
	getJSON(t, d.admin+"/api/v1/logs?webhook=host", &page)
	if h, _ := page.Records[0]["request_headers"].(map[string]any); len(page.Records) != 1 || h["Host"] != host {
		t.Errorf("logged headers: %v", page.Records)
	}

	multi := "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\n\r\ntwo words\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nsecond\r\n" +
		"--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.txt\"\r\nContent-Type: text/plain\r\n\r\nfile body\r\n" +
		"--XyZ--\r\n"
	tests := []struct {
		name, method, path, body, ctype, want string
	}{
		{"urlencoded", "POST", "form", "a=1&b=two+words&a=2", "application/x-www-form-urlencoded", `{"a":"1","b":"two words"}`},
		{"malformed escape kept", "POST", "form", "c=%ZZ&d=%41&e", "application/x-www-form-urlencoded", `{"c":"%ZZ","d":"A","e":""}`},
		{"semicolon is not a separator", "POST", "form", "a=1;b=2", "application/x-www-form-urlencoded", `{"a":"1;b=2"}`},
		{"multipart", "POST", "form", multi, "multipart/form-data; boundary=XyZ", `{"a":"1","b":"two words"}`},
		{"multipart, bad boundary", "POST", "form", multi, "multipart/form-data; boundary=nope", `{}`},
		{"query", "GET", "query?x=1&y=%ZZ&x=2", "", "", `{"x":"1","y":"%ZZ"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h map[string]string
			if tt.ctype != "" {
				h = map[string]string{"Content-Type": tt.ctype}
			}
			r := do(t, tt.method, base+tt.path, tt.body, h)
			var got, want any
			if err := json.Unmarshal([]byte(fmt.Sprint(r.Message)), &got); err != nil {
				t.Fatalf("%d %v", r.Status, r.Message)
			}
			json.Unmarshal([]byte(tt.want), &want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("payload %v, want %v", got, want)
			}
		})
	}
}

// TestCallLogDownAnswers503: with a durable call log, no call is answered
// as delivered without its record. A record that cannot be committed turns
// the answer into 503; while the log fails, calls get 503 before any code
// runs; the async log keeps answering.
func TestCallLogDownAnswers503(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"a.yaml": openFile(
		hook("ok", "ok", "open", "", `result = {exit_code = 0, message = "ran", body = "custom"}`))})
	cur := currentTable(t, dir)
	tests := []struct {
		name           string
		durable        bool
		appendErr      error
		failing        bool
		wantStatus     int
		wantMsg        string
		wantCodeRan    bool
		wantRetryAfter bool
	}{
		{"durable, committed", true, nil, false, 200, "custom", true, false},
		{"durable, commit fails", true, errors.New("no space left on device"), false, 503, `{"message":"Call log unavailable"}`, true, true},
		{"durable, log failing: no code runs", true, errors.New("no space left on device"), true, 503, `{"message":"Call log unavailable"}`, false, true},
		{"durable, log failing, this record commits", true, nil, true, 503, `{"message":"Call log unavailable"}`, false, true},
		{"async, commit fails", false, errors.New("no space left on device"), true, 200, "custom", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *logs.Record
			p := newPipeline(DefaultOptions(), cur, newMetrics(prometheus.NewRegistry()), discardLogger(),
				func(_ context.Context, r *logs.Record) error { got = r; return tt.appendErr })
			p.durable = tt.durable
			p.logFailing = func() bool { return tt.failing }
			w := httptest.NewRecorder()
			p.ServeHTTP(w, httptest.NewRequest("POST", DefaultPrefix+"ok", strings.NewReader("{}")))
			if w.Code != tt.wantStatus || strings.TrimSpace(w.Body.String()) != tt.wantMsg {
				t.Errorf("answer %d %s, want %d %s", w.Code, w.Body.String(), tt.wantStatus, tt.wantMsg)
			}
			if (w.Header().Get("Retry-After") != "") != tt.wantRetryAfter {
				t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
			}
			if got == nil {
				t.Fatal("no record appended")
			}
			if ran := got.CodeStatus != logs.CodeSkipped; ran != tt.wantCodeRan {
				t.Errorf("code ran = %v (code_status %s), want %v", ran, got.CodeStatus, tt.wantCodeRan)
			}
		})
	}
}

// TestMemoryGuardStopsRunawayCode: --max-memory interrupts code that grows
// the heap without bound, long before its timeout; the daemon keeps serving.
func TestMemoryGuardStopsRunawayCode(t *testing.T) {
	files := map[string]string{"a.yaml": openFile(
		hook("hog", "hog", "open", "timeout: 60", "local t, i = {}, 0\nwhile true do i = i + 1; t[i] = string.rep(\"x\", 4000) .. i end") +
			hook("fine", "fine", "open", "", `result.message = "fine"`))}
	d := startDaemon(t, files, func(o *Options) { o.MaxMemory = 96 << 20 })
	start := time.Now()
	r := do(t, "POST", d.pub+DefaultPrefix+"hog", "{}", nil)
	if r.Status != 500 || r.Message != "Webhook code execution error: memory limit exceeded" || time.Since(start) > 50*time.Second {
		t.Fatalf("runaway code: %d %v after %v", r.Status, r.Message, time.Since(start))
	}
	if r := do(t, "POST", d.pub+DefaultPrefix+"fine", "{}", nil); r.Status != 200 {
		t.Errorf("after: %d %v", r.Status, r.Message)
	}
	if m := metricsText(t, d.admin); !strings.Contains(m, `towerhook_lua_errors_total{kind="webhook",reason="memory"} 1`) {
		t.Errorf("no memory error counted:\n%s", m)
	}
}
