package daemon

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

// testDefs are the definitions the runner tests use: a token authenticator
// (secret api_token), a webhook that calls out, one that loops forever and
// one that reads the clock.
const testDefs = `cetmix_tower_yaml_version: 1
records:
- cetmix_tower_model: webhook_authenticator
  reference: token
  name: Token
  code: |
    if hmac.compare_digest(headers["X-Token"] or "", #!cxtower.secret.api_token!#) then
      result = {allowed = true}
    else
      result = {allowed = false, http_code = 401, message = "Invalid token"}
    end
- cetmix_tower_model: webhook
  reference: deploy
  name: Deploy
  endpoint: deploy
  authenticator_id: token
  code: |
    local r = requests.post("%s/notify", {json = {text = "deploying " .. tostring(payload.ref)}})
    local p = subprocess.run({"/bin/sh", "-c", "touch %s"})
    _logger.info("deployed " .. tostring(payload.ref))
    result = {exit_code = p.returncode, message = "notified " .. r.status_code .. ": " .. p.stdout}
- cetmix_tower_model: webhook
  reference: spin
  name: Spin
  endpoint: spin
  timeout: 0.2
  authenticator_id: token
  code: |
    while true do end
- cetmix_tower_model: webhook
  reference: clock
  name: Clock
  endpoint: clock
  method: get
  authenticator_id: token
  code: |
    result = {exit_code = 0, message = {now = time.time(), day = time.strftime("%%Y-%%m-%%d"), check = payload.check}}
`

// sinkListener accepts on 127.0.0.1 and counts connections: a test run
// must never make one.
func sinkListener(t *testing.T) (url string, conns *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return "http://" + ln.Addr().String(), conns
}

// testRunDir writes testDefs (calling sink, touching marker) and the
// given test files into a new directory.
func testRunDir(t *testing.T, sink, marker string, tests map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"defs.yaml": fmt.Sprintf(testDefs, sink, marker)}
	for k, v := range tests {
		files[k] = v
	}
	writeFiles(t, dir, files)
	return dir
}

// runTests runs Test over dir and returns its exit code and outputs.
func runTests(t *testing.T, o TestOptions) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if o.Environ == nil {
		o.Environ = []string{}
	}
	code := Test(context.Background(), o, &out, &errb)
	return code, out.String(), errb.String()
}

const deployTests = `towerhook_test_version: 1
tests:
- name: deploy with mocks
  webhook: deploy
  secrets: {api_token: t0ken}
  request:
    json: {ref: main}
    sign: |
      headers["X-Token"] = secrets.api_token
  mocks:
    requests: [{method: POST, url: "%[1]s/notify", status: 202}]
    subprocess: [{argv: [/bin/sh, -c, "touch %[2]s"], returncode: 0, stdout: done}]
  expect:
    status: 200
    message: "notified 202: done"
    authentication: success
    log_lines_contain: [deployed main]
    requests: [{method: POST, url: "%[1]s/notify", json: {text: deploying main}}]
    subprocess: [{argv: [/bin/sh, -c, "touch %[2]s"]}]
- name: deploy without mocks
  webhook: deploy
  request:
    json: {ref: main}
    sign: |
      headers["X-Token"] = secrets.api_token
  expect:
    status: 500
`

// TestTestNoSideEffects: the code's requests and subprocess calls reach
// neither the listener nor the process table, mocked or not; unmatched
// calls fail the test naming the method and URL or the argv.
func TestTestNoSideEffects(t *testing.T) {
	sink, conns := sinkListener(t)
	marker := filepath.Join(t.TempDir(), "marker")
	dir := testRunDir(t, sink, marker, map[string]string{
		"deploy_test.yaml": fmt.Sprintf(deployTests, sink, marker),
	})
	code, out, errOut := runTests(t, TestOptions{Dir: dir, Verbose: true})
	if code != 1 {
		t.Errorf("exit code %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"--- PASS: deploy with mocks",
		"--- FAIL: deploy without mocks",
		"deploy_test.yaml:20: requests: no mock for POST " + sink + "/notify",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("last line: %q", out)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the listener got %d connections", n)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the marker file exists (a process ran): %v", err)
	}
}

// TestTestSubprocessUnmatched names the argv of an unmatched subprocess call.
func TestTestSubprocessUnmatched(t *testing.T) {
	sink, _ := sinkListener(t)
	marker := filepath.Join(t.TempDir(), "marker")
	dir := testRunDir(t, sink, marker, map[string]string{"a_test.yaml": fmt.Sprintf(`towerhook_test_version: 1
tests:
- name: only requests mocked
  webhook: deploy
  request: {headers: {X-Token: "<missing secret api_token>"}}
  mocks: {requests: [{url: "%s/notify"}]}
`, sink)})
	code, out, _ := runTests(t, TestOptions{Dir: dir})
	want := fmt.Sprintf(`a_test.yaml:3: subprocess: no mock for argv ["/bin/sh", "-c", "touch %s"]`, marker)
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("exit %d, output lacks %q:\n%s", code, want, out)
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the marker file exists (a process ran): %v", err)
	}
}

// TestTestExpectations: every kind of expectation passes when met and
// fails with file:line, want and got when not.
func TestTestExpectations(t *testing.T) {
	const file = `towerhook_test_version: 1
tests:
- name: clock
  webhook: clock
  now: "2026-03-01T12:00:00Z"
  request:
    headers: {X-Token: "<missing secret api_token>"}
    query: {check: disk}
  expect:
    status: 200
    message: {now: 1772366400, day: "2026-03-01", check: disk}
    authentication: success
- name: wrong token
  webhook: clock
  request: {headers: {X-Token: nope}}
  expect: {status: 401, message: Invalid token, authentication: failed}
- name: regex
  webhook: clock
  request: {headers: {X-Token: "<missing secret api_token>"}}
  expect: {message_regex: '"day":"20\d\d-'}
- name: all wrong
  webhook: clock
  now: 0.5
  request: {headers: {X-Token: nope}}
  expect:
    status: 200
    message: Welcome
    authentication: success
    log_lines_contain: [never logged]
    requests: [{url: "http://x/"}]
    subprocess: []
- name: regex wrong
  webhook: clock
  request: {headers: {X-Token: nope}}
  expect: {message_regex: ^OK$}
- name: a number set by sign is sent as its digits
  webhook: clock
  secrets: {api_token: "1772366400"}
  now: 1772366400
  request:
    sign: headers["X-Token"] = time.time()
  expect: {status: 200}
`
	dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", map[string]string{"e_test.yaml": file})
	code, out, _ := runTests(t, TestOptions{Dir: dir})
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	want := []string{
		`--- FAIL: all wrong`,
		`e_test.yaml:26: status: want 200, got 401 (message "Invalid token")`,
		`e_test.yaml:27: message: want "Welcome", got "Invalid token"`,
		`e_test.yaml:28: authentication: want success, got failed`,
		`e_test.yaml:29: log lines: want one containing "never logged", got []`,
		`e_test.yaml:30: requests: want 1 call(s), got 0 []`,
		`--- FAIL: regex wrong`,
		`e_test.yaml:35: message: want a match of "^OK$", got "Invalid token"`,
		"4 passed, 2 failed\n",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "--- FAIL: clock") || strings.Contains(out, "--- FAIL: regex\n") {
		t.Errorf("a passing test failed:\n%s", out)
	}
}

// TestTestExitCodes: 0 all pass, 1 a failure, 2 anything that does not
// load or cannot run; the other files' tests are still run and reported.
func TestTestExitCodes(t *testing.T) {
	pass := "towerhook_test_version: 1\ntests:\n- {name: ok, webhook: clock, request: {headers: {X-Token: nope}}, expect: {status: 401}}\n"
	fail := "towerhook_test_version: 1\ntests:\n- {name: bad, webhook: clock, expect: {status: 200}}\n"
	tests := []struct {
		name     string
		files    map[string]string
		wantCode int
		wantOut  []string
		wantErr  []string
	}{
		{"all pass", map[string]string{"a_test.yaml": pass}, 0, []string{"ok  \t", "1 passed, 0 failed\n"}, nil},
		{"a failure", map[string]string{"a_test.yaml": pass, "b_test.yaml": fail}, 1,
			[]string{"b_test.yaml:3: status: want 200, got 401", "1 passed, 1 failed\n"}, nil},
		{"no tests", nil, 0, []string{"0 passed, 0 failed\n"}, nil},
		{"yaml error", map[string]string{"a_test.yaml": pass, "b_test.yaml": "tests: [\n"}, 2,
			[]string{"1 passed, 0 failed\n"}, []string{"b_test.yaml:1: invalid YAML"}},
		{"unknown key", map[string]string{"a_test.yaml": pass, "sub/b_test.yml": strings.Replace(fail, "expect", "expected", 1)}, 2,
			[]string{"1 passed, 0 failed\n"}, []string{`sub/b_test.yml:3: test: unknown key "expected"`}},
		{"missing webhook", map[string]string{"a_test.yaml": pass, "b_test.yaml": "towerhook_test_version: 1\ntests:\n- {name: x}\n"}, 2,
			[]string{"1 passed, 0 failed\n"}, []string{`b_test.yaml:3: test "x": missing required key "webhook"`}},
		{"unknown webhook", map[string]string{"a_test.yaml": pass, "b_test.yaml": strings.Replace(fail, "clock", "nope", 1)}, 2,
			[]string{`b_test.yaml:3: unknown webhook "nope"`, "1 passed, 1 failed\n"}, nil},
		{"sign raises", map[string]string{"a_test.yaml": pass, "b_test.yaml": "towerhook_test_version: 1\ntests:\n- name: s\n  webhook: clock\n  request:\n    sign: |\n      local x = 1\n      error(\"no key \" .. x)\n"}, 2,
			[]string{`b_test.yaml:8: request.sign: line 2: no key 1`, "1 passed, 1 failed\n"}, nil},
		{"definitions do not load", map[string]string{"a_test.yaml": pass, "broken.yaml": "records: [\n"}, 2,
			[]string{"0 passed, 0 failed\n"}, []string{"broken.yaml:1: invalid YAML"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", tt.files)
			code, out, errOut := runTests(t, TestOptions{Dir: dir})
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d\n%s%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
		})
	}
}

// TestTestTimeout: code that never ends is stopped by the webhook's
// timeout, the test fails naming it and the run goes on.
func TestTestTimeout(t *testing.T) {
	dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", map[string]string{"t_test.yaml": `towerhook_test_version: 1
tests:
- name: spins
  webhook: spin
  request: {headers: {X-Token: "<missing secret api_token>"}}
  expect: {status: 500}
- name: still runs
  webhook: clock
  request: {headers: {X-Token: nope}}
  expect: {status: 401}
`})
	code, out, _ := runTests(t, TestOptions{Dir: dir})
	want := "t_test.yaml:3: the code did not finish: Webhook code execution error: defs.yaml:22: execution timed out after 200ms"
	if code != 1 || !strings.Contains(out, want) || !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("exit %d, want 1 and %q:\n%s", code, want, out)
	}
}

// TestTestRunFilterAndJUnit: --run selects by name; the JUnit report has a
// suite per file, a case per test, failures and load errors.
func TestTestRunFilterAndJUnit(t *testing.T) {
	dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", map[string]string{
		"a_test.yaml": `towerhook_test_version: 1
tests:
- {name: refused, webhook: clock, request: {headers: {X-Token: nope}}, expect: {status: 401}}
- {name: refused & wrong, webhook: clock, request: {headers: {X-Token: nope}}, expect: {status: 200}}
- {name: skipped, webhook: clock, expect: {status: 200}}
`,
		"b_test.yaml": "tests: 1\n",
	})
	junit := filepath.Join(t.TempDir(), "report.xml")
	code, out, _ := runTests(t, TestOptions{Dir: dir, Run: "^refused", JUnit: junit})
	if code != 2 || !strings.HasSuffix(out, "1 passed, 1 failed\n") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("JUnit XML does not parse: %v\n%s", err, data)
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 2 || len(doc.Suites) != 2 {
		t.Fatalf("totals tests=%d failures=%d errors=%d suites=%d\n%s", doc.Tests, doc.Failures, doc.Errors, len(doc.Suites), data)
	}
	a := doc.Suites[1]
	if a.Name != filepath.ToSlash(filepath.Join(dir, "a_test.yaml")) || len(a.Cases) != 2 ||
		a.Cases[0].Failure != nil || a.Cases[1].Name != "refused & wrong" || a.Cases[1].Failure == nil ||
		!strings.Contains(a.Cases[1].Failure.Text, "a_test.yaml:4: status: want 200, got 401") || a.Cases[1].Line != 4 {
		t.Errorf("suite a: %+v", a)
	}
	if b := doc.Suites[0]; b.Errors != 2 || b.Cases[0].Error == nil || b.Cases[0].Name != "load" {
		t.Errorf("suite b: %+v", b)
	}
}

// TestTestSecretsMasked: a failure text never shows a secret value.
func TestTestSecretsMasked(t *testing.T) {
	dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", map[string]string{"s_test.yaml": `towerhook_test_version: 1
tests:
- name: leak
  webhook: clock
  secrets: {api_token: sup3r-secret-token}
  request:
    query: {check: sup3r-secret-token}
    sign: headers["X-Token"] = secrets.api_token
  expect: {message: sup3r-secret-token}
`})
	_, out, _ := runTests(t, TestOptions{Dir: dir})
	if strings.Contains(out, "sup3r-secret-token") || !strings.Contains(out, "*****") {
		t.Errorf("output:\n%s", out)
	}
}

// TestCallMockSummary: call --mock answers from the file and says what
// matched; an unmatched call is named and nothing is sent.
func TestCallMockSummary(t *testing.T) {
	sink, conns := sinkListener(t)
	marker := filepath.Join(t.TempDir(), "marker")
	dir := testRunDir(t, sink, marker, nil)
	mock := filepath.Join(t.TempDir(), "mocks.yaml")
	writeFiles(t, filepath.Dir(mock), map[string]string{"mocks.yaml": fmt.Sprintf(
		"mocks:\n  requests: [{url: %q, status: 201}]\n", sink+"/notify")})
	t.Setenv("TOWERHOOK_SECRET_API_TOKEN", "tok")
	code, out, _ := runCall(t, CallOptions{Dir: dir, Endpoint: "deploy", Headers: []string{"X-Token: tok"},
		Data: `{"ref":"main"}`, Mock: mock})
	for _, w := range []string{
		"HTTP 500", "webhook: deploy (" + filepath.ToSlash(filepath.Join(dir, "defs.yaml")) + ":12)",
		"authenticator: token (" + filepath.ToSlash(filepath.Join(dir, "defs.yaml")) + ":3)",
		"authentication: success", "duration: ",
		fmt.Sprintf(`mock: subprocess: no mock for argv ["/bin/sh", "-c", "touch %s"]`, marker),
	} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	if code != 1 || conns.Load() != 0 {
		t.Errorf("exit %d, connections %d", code, conns.Load())
	}
	if _, err := os.Stat(marker); !os.IsNotExist(err) {
		t.Errorf("the marker file exists (a process ran): %v", err)
	}
	code, _, errOut := runCall(t, CallOptions{Dir: dir, Endpoint: "deploy", Mock: filepath.Join(dir, "defs.yaml")})
	if code != 2 || !regexp.MustCompile(`defs.yaml:1: unknown key "cetmix_tower_yaml_version"`).MatchString(errOut) {
		t.Errorf("bad mock file: exit %d, %s", code, errOut)
	}
}

// TestValidateChecksTests: validate fails on a test naming an unknown
// webhook and on a test file that does not decode.
func TestValidateChecksTests(t *testing.T) {
	dir := testRunDir(t, "http://127.0.0.1:1", "/nonexistent/marker", map[string]string{
		"a_test.yaml": "towerhook_test_version: 1\ntests:\n- {name: x, webhook: nope}\n",
		"b_test.yaml": "towerhook_test_version: 1\ntests:\n- {name: y, webhok: clock}\n",
	})
	var out, errb bytes.Buffer
	code := Validate(ValidateOptions{Dir: dir}, &out, &errb)
	for _, w := range []string{`a_test.yaml:3: test "x": unknown webhook "nope"`, `b_test.yaml:3: test: unknown key "webhok"`} {
		if !strings.Contains(errb.String(), w) {
			t.Errorf("stderr lacks %q:\n%s", w, errb.String())
		}
	}
	if code != 1 {
		t.Errorf("exit %d", code)
	}
}

func TestJSONSubsetAndURLs(t *testing.T) {
	subsets := []struct {
		want, got string
		ok        bool
	}{
		{`{"a":1}`, `{"a":1.0,"b":2}`, true},
		{`{"a":{"b":[1,{"c":"d"}]}}`, `{"a":{"b":[1,{"c":"d","e":1}],"x":0}}`, true},
		{`{"a":[1]}`, `{"a":[1,2]}`, false},
		{`{"a":"1"}`, `{"a":1}`, false},
		{`{"a":null}`, `{}`, false},
		{`{}`, `not json`, false},
	}
	for _, s := range subsets {
		if got := jsonSubset([]byte(s.want), []byte(s.got)); got != s.ok {
			t.Errorf("jsonSubset(%s, %s) = %v", s.want, s.got, got)
		}
	}
	urls := []struct {
		want, got string
		ok        bool
	}{
		{"https://x/h", "https://x/h?a=1", true},
		{"https://x/h?a=1", "https://x/h?a=1", true},
		{"https://x/h?a=2", "https://x/h?a=1", false},
		{"https://x/h", "https://x/h/", false},
	}
	for _, u := range urls {
		if got := mockURLMatches(u.want, u.got); got != u.ok {
			t.Errorf("mockURLMatches(%s, %s) = %v", u.want, u.got, got)
		}
	}
	if got := urlWithParams("https://x/h?z=1", map[string]string{"b": "2", "a": "1 2"}); got != "https://x/h?z=1&a=1+2&b=2" {
		t.Errorf("urlWithParams = %s", got)
	}
	msgs := []struct{ body, text string }{
		{`{"message":"ok"}`, "ok"},
		{`{"message":{"a":1}}` + "\n", `{"a":1}`},
		{`challenge-text`, "challenge-text"},
		{`{"text":"hi","response_type":"ephemeral"}`, `{"text":"hi","response_type":"ephemeral"}`},
	}
	for _, m := range msgs {
		if got, _ := answerMessage([]byte(m.body)); got != m.text {
			t.Errorf("answerMessage(%s) = %q, want %q", m.body, got, m.text)
		}
	}
}
